#!/usr/bin/env bash
# End to end on kind, the way a user installs LabelPilot: a kind cluster with a CPU worker
# labelled like c5.xlarge and a worker labelled, tainted and advertised like a p3.2xlarge GPU
# node, the operator and worker images built and loaded, the chart installed, a jobs
# namespace that enforces the restricted Pod Security Standard, and a digits LabelingJob run
# to Completed, with the operator pod deleted while a training step runs.
#
#   hack/kind-e2e.sh                 # create (or reuse) the cluster, run, keep it
#   KEEP_CLUSTER=0 hack/kind-e2e.sh  # delete the cluster at the end
#
# Where no registry can be reached, the node image is built here (hack/kind/node-image.sh),
# and kind, kubectl and helm come from the project's own builds when not on PATH.
# E2E_INSTALL=kubectl installs with `kubectl apply -f deploy/install.yaml` instead of the
# chart (a Helm release of an earlier run on the cluster is uninstalled first): the images
# are loaded under the names the manifest carries, the jobs run in its namespace, and the
# profiles ConfigMap is fitted to kind nodes, as an admin fits it to theirs.
# Settings: KIND_NODE_IMAGE, KIND_CLUSTER, IMAGE_TAG, E2E_OBJECTS (digits, default 1000),
# E2E_DATA_DIR (kept; default a temporary folder removed at the end; a reused cluster keeps
# the data folder it was created with), E2E_INSTALL (helm | kubectl), E2E_TIMEOUT.
set -Eeuo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster="${KIND_CLUSTER:-labelpilot-e2e}"
tag="${IMAGE_TAG:-e2e}"
namespace="labelpilot-system"
install="${E2E_INSTALL:-helm}"
jobs_namespace="labelpilot-jobs"
[[ "$install" == helm ]] || jobs_namespace="$namespace"
keep="${KEEP_CLUSTER:-1}"
timeout="${E2E_TIMEOUT:-1800s}"
objects="${E2E_OBJECTS:-1000}"
data_dir="${E2E_DATA_DIR:-}"
remove_data=0
if [[ -z "$data_dir" ]]; then data_dir="$(mktemp -d)"; remove_data=1; fi

log() { printf '== [%4ss] %s\n' "$SECONDS" "$*"; }

DOCKER_HOST="$("$root/hack/docker-engine.sh")"
export DOCKER_HOST
# kind and kubectl from PATH, else from the project's builds; helm likewise.
if ! command -v kind >/dev/null || ! command -v kubectl >/dev/null; then
  "$root/hack/kind/build-binaries.sh" >&2
  PATH="$PATH:$("$root/hack/kind/build-binaries.sh" --print-dir)"
fi
if ! command -v helm >/dev/null; then
  "$root/hack/build-binaries.sh" >&2
  PATH="$PATH:$("$root/hack/build-binaries.sh" --print-dir)"
fi
export PATH
kubeconfig="$data_dir/kubeconfig"
kubectl() { command kubectl --kubeconfig "$kubeconfig" "$@"; }
helm() { command helm --kubeconfig "$kubeconfig" "$@"; }

cleanup() {
  if [[ "$keep" == "0" ]]; then kind delete cluster --name "$cluster" >/dev/null 2>&1 || true; fi
  if [[ "$remove_data" == 1 ]]; then rm -rf "$data_dir"; fi
}
dump() {
  log "diagnostics"
  kubectl get labelingjobs,jobs,pods -A -o wide || true
  kubectl -n "$namespace" logs deploy/labelpilot --tail=100 || true
}
# load_image IMAGE NODE...: what `kind load docker-image` does, less the layer blobs once
# they are unpacked (a node keeps one copy of a 6 GB worker image, not two). An image the
# node holds under another name is tagged there instead of copied again.
load_image() {
  local image=$1 id node ref known; shift
  id="$(docker image inspect -f '{{.Id}}' "$image")"
  ref="$(full_ref "$image")"
  for node in "$@"; do
    known="$(docker exec "$node" crictl images --no-trunc -o json | python3 -c '
import json, sys
for image in json.load(sys.stdin)["images"]:
    if image["id"] == sys.argv[1] and image["repoTags"]:
        print(sys.argv[2] if sys.argv[2] in image["repoTags"] else image["repoTags"][0])
        break' "$id" "$ref")"
    if [[ "$known" == "$ref" ]]; then continue; fi
    if [[ -n "$known" ]]; then
      echo "tagging $known as $ref in $node"
      docker exec "$node" ctr --namespace=k8s.io images tag --force "$known" "$ref" >/dev/null
      continue
    fi
    echo "loading $image into $node"
    docker save "$image" | docker exec -i "$node" ctr --namespace=k8s.io images import \
      --local --digests --snapshotter=overlayfs --discard-unpacked-layers - >/dev/null
  done
}
# full_ref IMAGE: the name containerd gives a Docker Hub short name (labelpilot/x:t ->
# docker.io/labelpilot/x:t); names with a registry host stay as they are.
full_ref() {
  local first="${1%%/*}"
  if [[ "$1" != */* ]]; then echo "docker.io/library/$1"
  elif [[ "$first" == *.* || "$first" == *:* || "$first" == localhost ]]; then echo "$1"
  else echo "docker.io/$1"
  fi
}
trap cleanup EXIT
trap dump ERR

node_image="${KIND_NODE_IMAGE:-}"
if [[ -z "$node_image" ]] && ! timeout 30 docker pull -q registry.k8s.io/pause:3.10.2 >/dev/null 2>&1
then
  log "no registry reachable: building the kind node image here"
  node_image="$("$root/hack/kind/node-image.sh")"
fi

log "preparing $objects digits in $data_dir"
"$root/.venv/bin/labelpilot" datasets prepare digits --out "$data_dir/data/digits" \
  --limit "$objects" --label-attribute-name digit --ref-root /data/digits
chmod -R a+rwX "$data_dir/data"   # the steps run as uid 65532

if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  log "creating kind cluster $cluster${node_image:+ from $node_image}"
  kind create cluster --name "$cluster" ${node_image:+--image "$node_image"} \
    --kubeconfig "$kubeconfig" --wait 180s --config - <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  apiServerAddress: 127.0.0.1
kubeadmConfigPatches:
  - |
    kind: KubeletConfiguration
    failCgroupV1: false
nodes:
  - role: control-plane
  - role: worker
    labels:
      node.kubernetes.io/instance-type: c5.xlarge
    extraMounts:
      - {hostPath: "$data_dir/data", containerPath: /data}
  - role: worker
    labels:
      node.kubernetes.io/instance-type: p3.2xlarge
      nvidia.com/gpu.present: "true"
      nvidia.com/gpu.product: Tesla-V100-SXM2-16GB
    extraMounts:
      - {hostPath: "$data_dir/data", containerPath: /data}
KIND
else
  kind get kubeconfig --name "$cluster" >"$kubeconfig"
fi

gpu_node="$(kubectl get nodes -l nvidia.com/gpu.present=true -o jsonpath='{.items[0].metadata.name}')"
cpu_node="$(kubectl get nodes -l node.kubernetes.io/instance-type=c5.xlarge \
  -o jsonpath='{.items[0].metadata.name}')"
log "GPU node $gpu_node: taint and an advertised nvidia.com/gpu (no device: training runs on CPU)"
kubectl taint node "$gpu_node" nvidia.com/gpu=present:NoSchedule --overwrite
kubectl patch node "$gpu_node" --subresource=status --type=json \
  -p '[{"op":"add","path":"/status/capacity/nvidia.com~1gpu","value":"1"}]'

log "building and loading the images"
IMAGES="operator worker" "$root/hack/build-images.sh" "$tag"
if [[ "$install" == helm ]]; then
  operator_image="labelpilot/operator:$tag"
  worker_image="labelpilot/worker:$tag"
else
  operator_image="$(sed -n 's|^ *image: \(.*/operator:.*\)$|\1|p' "$root/deploy/install.yaml")"
  worker_image="$(sed -n 's|^ *- --image=||p' "$root/deploy/install.yaml")"
  docker tag "labelpilot/operator:$tag" "$operator_image"
  docker tag "labelpilot/worker:$tag" "$worker_image"
fi
load_image "$operator_image" "$gpu_node" "$cpu_node"
load_image "$worker_image" "$gpu_node" "$cpu_node"

if [[ "$install" == helm ]]; then
  log "installing the chart"
  kubectl create namespace "$jobs_namespace" --dry-run=client -o yaml | kubectl apply -f -
  kubectl label namespace "$jobs_namespace" --overwrite \
    pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
  # The image's id as a pod annotation: a rebuilt image under the same tag rolls the operator.
  operator_id="$(docker image inspect -f '{{.Id}}' "$operator_image" | cut -c8-19)"
  helm upgrade --install labelpilot "$root/charts/labelpilot" \
    --namespace "$namespace" --create-namespace --wait --timeout 5m \
    --values "$root/hack/kind/e2e-values.yaml" \
    --set image.repository=labelpilot/operator --set image.tag="$tag" \
    --set worker.image.repository=labelpilot/worker --set worker.image.tag="$tag" \
    --set "watchNamespaces={$jobs_namespace}" \
    --set-string "podAnnotations.labelpilot\.dev/image-id=$operator_id"
else
  log "installing with kubectl apply -f deploy/install.yaml"
  if helm status labelpilot -n "$namespace" >/dev/null 2>&1; then
    helm uninstall labelpilot -n "$namespace" --wait
  fi
  kubectl apply --server-side -f "$root/deploy/install.yaml"
  helm template labelpilot "$root/charts/labelpilot" --namespace "$namespace" \
    --values "$root/hack/kind/e2e-values.yaml" --show-only templates/configmap-profiles.yaml \
    | kubectl apply --server-side --force-conflicts -f -
  kubectl -n "$namespace" rollout restart deploy/labelpilot
  kubectl -n "$namespace" rollout status deploy/labelpilot --timeout=300s
fi

log "running the digits LabelingJob"
kubectl -n "$jobs_namespace" apply -f - <<PV
apiVersion: v1
kind: PersistentVolume
metadata:
  name: labelpilot-e2e-data-$jobs_namespace
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
  volumeName: labelpilot-e2e-data-$jobs_namespace
  resources: {requests: {storage: 10Gi}}
PV
sed "s|/data/output/digits|/data/output/digits-$install|" \
  "$root/examples/gitops/jobs/labelingjob.yaml" | kubectl -n "$jobs_namespace" apply -f -

log "deleting the operator pod while a training step runs"
running_training() {
  kubectl -n "$jobs_namespace" get pods -l labelpilot.dev/step=train \
    --field-selector=status.phase=Running -o name
}
for _ in $(seq 600); do
  [[ -z "$(running_training)" ]] || break
  sleep 1
done
[[ -n "$(running_training)" ]] || { echo "no training pod ran within 600 s" >&2; false; }
kubectl -n "$namespace" delete pod -l app.kubernetes.io/name=labelpilot --wait=true
kubectl -n "$namespace" rollout status deploy/labelpilot --timeout=300s

log "waiting for Completed (up to $timeout)"
kubectl -n "$jobs_namespace" wait labelingjob/digits --for=jsonpath='{.status.phase}'=Completed \
  --timeout="$timeout"
kubectl -n "$jobs_namespace" get labelingjob digits -o yaml >"$data_dir/$install-labelingjob.yaml"
kubectl -n "$jobs_namespace" get pods -l labelpilot.dev/job=digits -o json \
  >"$data_dir/$install-pods.json"
kubectl get nodes -o json >"$data_dir/nodes.json"
kubectl -n "$jobs_namespace" get labelingjob digits
log "ok: output under $data_dir/data/output/digits-$install"
