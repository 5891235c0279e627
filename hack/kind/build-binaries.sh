#!/usr/bin/env bash
# Builds, from official sources through the Go module proxy, what a kind node image and the
# kind CLI need where no registry serves them: kubelet, kubeadm, kube-proxy (k8s.io/kubernetes),
# kind (sigs.k8s.io/kind), containerd with ctr and its runc shim, crictl, and etcd and CoreDNS
# at the versions this kubeadm deploys.
# Output: $LABELPILOT_CACHE/bin/kind-<versions-key>/ (--print-dir prints it); a finished
# build is never redone. The kubeadm-deployed image versions are written to images.env there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/lib/gobuild.sh
source "$here/../lib/gobuild.sh"

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
KIND_VERSION="${KIND_VERSION:-v0.33.0}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-v2.3.7}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.37.0}"
CACHE="${LABELPILOT_CACHE:-$HOME/.cache/labelpilot}"
KEY="kind-${KIND_VERSION}_k8s-${K8S_VERSION}_containerd-${CONTAINERD_VERSION}_crictl-${CRICTL_VERSION}"
OUT="$CACHE/bin/$KEY"
BINARIES=(kubelet kubeadm kube-proxy kube-apiserver kube-controller-manager kube-scheduler
          kubectl kind containerd ctr containerd-shim-runc-v2 crictl etcd coredns)

if [[ "${1:-}" == "--print-dir" ]]; then echo "$OUT"; exit 0; fi

all_built() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$OUT/$b" ]] || return 1; done
  [[ -s "$OUT/images.env" ]]
}
if all_built; then
  echo "kind binaries up to date in $OUT"
  exit 0
fi

mkdir -p "$OUT" "$CACHE/src"
build_kubernetes "$CACHE/src" "$OUT" "$K8S_VERSION" kubeadm kubelet kube-proxy \
  kube-apiserver kube-controller-manager kube-scheduler kubectl

# The image names and tags this kubeadm deploys, e.g. registry.k8s.io/etcd:3.6.5-0.
"$OUT/kubeadm" config images list --kubernetes-version "$K8S_VERSION" >"$OUT/images.list"
tag_of() { grep -E "/$1:" "$OUT/images.list" | sed 's/.*://'; }
etcd_tag="$(tag_of etcd)"
coredns_tag="$(tag_of coredns)"
pause_tag="$(tag_of pause)"
build_etcd "$CACHE/src" "$OUT" "v${etcd_tag%-*}"
go_install "$OUT" coredns "github.com/coredns/coredns@$coredns_tag"
go_install "$OUT" kind "sigs.k8s.io/kind@$KIND_VERSION"
for b in containerd ctr containerd-shim-runc-v2; do
  go_install "$OUT" "$b" "github.com/containerd/containerd/v2/cmd/$b@$CONTAINERD_VERSION" \
    "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
done
go_install "$OUT" crictl "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
{
  echo "K8S_VERSION=$K8S_VERSION"
  echo "ETCD_TAG=$etcd_tag"
  echo "COREDNS_TAG=$coredns_tag"
  echo "PAUSE_TAG=$pause_tag"
} >"$OUT/images.env"
all_built
echo "kind binaries ready in $OUT"
