#!/usr/bin/env bash
# `make demo`: MNIST (10,000 digits) labeled by the operator on the dev cluster.
# Leaves the job's output workspace, its plot and the ground truth in demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
LIMIT="${DEMO_LIMIT:-10000}"
TIMEOUT="${DEMO_TIMEOUT_SECONDS:-3600}"
out="$PWD/demo-output"
bins=$(bash hack/build-binaries.sh --print-dir)
kubectl() { "$bins/kubectl" "$@"; }

python -m devcluster up
export KUBECONFIG
KUBECONFIG=$(python -m devcluster kubeconfig)
kubectl apply --server-side -f crds/labelpilot.dev_labelingjobs.yaml >/dev/null
kubectl wait --for=condition=Established crd/labelingjobs.labelpilot.dev --timeout=60s >/dev/null

echo "== removing the previous demo (if any)"
# An operator before the resync thread (labelpilot/controller/resync.py) put kopf's finalizer
# on every job; none runs yet to remove it, and the demo's own job is disposable.
if kubectl get labelingjob mnist >/dev/null 2>&1; then
  kubectl patch labelingjob mnist --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
fi
kubectl delete labelingjob mnist --ignore-not-found --wait=true >/dev/null
kubectl delete pvc labelpilot-data --ignore-not-found --wait=true >/dev/null
kubectl delete pv labelpilot-demo-data --ignore-not-found --wait=true >/dev/null
rm -rf "$out"
mkdir -p "$out/data"

echo "== preparing MNIST ($LIMIT digits) in $out/data/mnist, seen by the Jobs at /data/mnist"
labelpilot datasets prepare mnist --out "$out/data/mnist" --limit "$LIMIT" \
  --label-attribute-name digit --ref-root /data/mnist >/dev/null

kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: labelpilot-demo-data}
spec:
  capacity: {storage: 20Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: "$out/data", type: Directory}
  claimRef: {namespace: default, name: labelpilot-data}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: labelpilot-data, namespace: default}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: labelpilot-demo-data
  resources: {requests: {storage: 20Gi}}
YAML

echo "== starting the operator (log: $out/operator.log)"
labelpilot operator --metrics-port 0 --liveness '' >"$out/operator.log" 2>&1 &
operator_pid=$!
trap 'kill $operator_pid 2>/dev/null || true; wait $operator_pid 2>/dev/null || true' EXIT

kubectl apply -f examples/mnist-labelingjob.yaml
echo "== progress (kubectl get labelingjob mnist)"
started=$(date +%s)
last=""
phase=""
while true; do
  line=$(kubectl get labelingjob mnist --no-headers \
    -o custom-columns='PHASE:.status.phase,ITER:.status.iteration,STEP:.status.currentStep,HUMAN:.status.labelCounters.humanLabeled,MACHINE:.status.labelCounters.machineLabeled,UNLABELED:.status.labelCounters.unlabeled,BOUND:.status.thresholds.accuracyBound' \
    2>/dev/null || true)
  if [[ "$line" != "$last" ]]; then
    printf '%5ss  %s\n' "$(( $(date +%s) - started ))" "$line"
    last=$line
  fi
  phase=$(kubectl get labelingjob mnist -o jsonpath='{.status.phase}' 2>/dev/null || true)
  case "$phase" in Completed|Failed|Stopped) break ;; esac
  if (( $(date +%s) - started > TIMEOUT )); then
    echo "demo: timed out after ${TIMEOUT}s" >&2
    break
  fi
  sleep 5
done

echo "== final status"
kubectl get labelingjob mnist -o yaml | tee "$out/labelingjob.yaml" | sed -n '/^status:/,$p'
cp -r "$out/data/output/mnist/." "$out/"
cp "$out/data/mnist/ground-truth.manifest" "$out/ground-truth.manifest"
if [[ -f "$out/report.json" ]]; then
  labelpilot report "$out" --out "$out/report.png"
fi
echo "== output: $out/manifests/output/output.manifest, $out/report.json, $out/report.png"
[[ "$phase" == "Completed" ]]
