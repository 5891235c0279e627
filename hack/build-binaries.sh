#!/usr/bin/env bash
# Builds the dev cluster's binaries from official sources through the Go module proxy:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes),
# etcd (go.etcd.io/etcd/server/v3) and helm (helm.sh/helm/v3), at the versions below.
# Output: $LABELPILOT_CACHE/bin/<versions-key>/; a finished build is never redone.
set -euo pipefail
# shellcheck source=hack/lib/gobuild.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/gobuild.sh"

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE="${LABELPILOT_CACHE:-$HOME/.cache/labelpilot}"
KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}"
OUT="$CACHE/bin/$KEY"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd helm)

if [[ "${1:-}" == "--print-dir" ]]; then echo "$OUT"; exit 0; fi

all_built() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$OUT/$b" ]] || return 1; done
}
if all_built; then
  echo "binaries up to date in $OUT"
  exit 0
fi

mkdir -p "$OUT" "$CACHE/src"
build_etcd "$CACHE/src" "$OUT" "$ETCD_VERSION"
build_kubernetes "$CACHE/src" "$OUT" "$K8S_VERSION" \
  kube-apiserver kube-controller-manager kube-scheduler kubectl
go_install "$OUT" helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
all_built
echo "binaries ready in $OUT"
