#!/usr/bin/env bash
# End-to-end on kind, for machines with a Docker engine (not the dev cluster's path):
# a kind cluster with a worker node labelled and tainted like a GPU node (GPU Feature
# Discovery labels, nvidia.com/gpu taint, an advertised nvidia.com/gpu capacity), the three
# images built and loaded, the chart installed, the digits example run to Completed.
#
#   hack/kind-e2e.sh            # create, test, keep the cluster
#   KEEP_CLUSTER=0 hack/kind-e2e.sh
#
# Needs: docker, kind, kubectl, helm; the datasets cache (`make datasets`) for digits.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster="${KIND_CLUSTER:-labelpilot-e2e}"
tag="${IMAGE_TAG:-e2e}"
namespace="labelpilot-system"
jobs_namespace="labelpilot-jobs"
keep="${KEEP_CLUSTER:-1}"
timeout="${E2E_TIMEOUT:-1800s}"
data_dir="$(mktemp -d)"

log() { printf '== %s\n' "$*"; }

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
  done
}

cleanup() {
  rm -rf "$data_dir"
  if [[ "$keep" == "0" ]]; then
    kind delete cluster --name "$cluster"
  fi
}

dump() {
  log "diagnostics"
  kubectl get labelingjobs,jobs,pods -A -o wide || true
  kubectl -n "$namespace" logs deploy/labelpilot --tail=200 || true
}

need docker kind kubectl helm
trap cleanup EXIT
trap dump ERR

log "preparing the digits sample in $data_dir"
"$root/.venv/bin/labelpilot" datasets prepare digits --out "$data_dir/digits" --limit 300 \
  --label-attribute-name digit --ref-root /data/digits

if ! kind get clusters | grep -qx "$cluster"; then
  log "creating kind cluster $cluster"
  kind create cluster --name "$cluster" --wait 120s --config - <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
    labels:
      node.kubernetes.io/instance-type: c5.xlarge
    extraMounts:
      - {hostPath: "$data_dir", containerPath: /data}
  - role: worker
    labels:
      node.kubernetes.io/instance-type: p3.2xlarge
      nvidia.com/gpu.present: "true"
      nvidia.com/gpu.product: Tesla-V100-SXM2-16GB
    extraMounts:
      - {hostPath: "$data_dir", containerPath: /data}
KIND
fi

gpu_node="$(kubectl get nodes -l nvidia.com/gpu.present=true -o jsonpath='{.items[0].metadata.name}')"
log "GPU node $gpu_node: taint and an advertised nvidia.com/gpu (no real device; CPU runs)"
kubectl taint node "$gpu_node" nvidia.com/gpu=present:NoSchedule --overwrite
kubectl patch node "$gpu_node" --subresource=status --type=json \
  -p '[{"op":"add","path":"/status/capacity/nvidia.com~1gpu","value":"1"}]'

for image in operator worker worker-gpu; do
  log "building labelpilot/$image:$tag"
  docker build -f "$root/images/$image/Dockerfile" -t "labelpilot/$image:$tag" "$root"
  kind load docker-image --name "$cluster" "labelpilot/$image:$tag"
done

log "installing the chart"
kubectl create namespace "$jobs_namespace" --dry-run=client -o yaml | kubectl apply -f -
helm upgrade --install labelpilot "$root/charts/labelpilot" \
  --namespace "$namespace" --create-namespace --wait --timeout 5m \
  --set image.repository=labelpilot/operator --set image.tag="$tag" \
  --set image.pullPolicy=Never \
  --set worker.image.repository=labelpilot/worker-gpu --set worker.image.tag="$tag" \
  --set "watchNamespaces={$jobs_namespace}" \
  --set profiles.profiles.p3\\.2xlarge.requests.cpu=500m \
  --set profiles.profiles.p3\\.2xlarge.requests.memory=1Gi

log "running the example LabelingJob"
kubectl -n "$jobs_namespace" apply -f - <<PV
apiVersion: v1
kind: PersistentVolume
metadata:
  name: labelpilot-e2e-data
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteMany]
  storageClassName: ""
  hostPath: {path: /data, type: Directory}
  claimRef: {namespace: $jobs_namespace, name: labelpilot-data}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: labelpilot-data
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: labelpilot-e2e-data
  resources: {requests: {storage: 10Gi}}
PV
kubectl -n "$jobs_namespace" apply -f "$root/examples/gitops/jobs/labelingjob.yaml"

log "waiting for Completed (up to $timeout)"
kubectl -n "$jobs_namespace" wait labelingjob/digits --for=jsonpath='{.status.phase}'=Completed \
  --timeout="$timeout"
kubectl -n "$jobs_namespace" get labelingjob digits
log "ok: output under $data_dir/output/digits (removed on exit)"
