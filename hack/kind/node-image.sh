#!/usr/bin/env bash
# Builds a kind node image without any registry: Debian bookworm with systemd (debootstrap),
# containerd, kubelet, kubeadm and kubectl built from source (hack/kind/build-binaries.sh),
# runc and the CNI plugins from Debian, and every image kubeadm deploys (control plane, etcd,
# CoreDNS, pause, kube-proxy) plus the pod network (hack/kind/net) built here and preloaded
# into the node's containerd under the names kubeadm expects. Prints the image name.
# Needs DOCKER_HOST (hack/docker-engine.sh) and root; a finished image is never rebuilt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

bin="$("$here/build-binaries.sh" --print-dir)"
"$here/build-binaries.sh" >&2
# shellcheck source=/dev/null
source "$bin/images.env"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The image's name carries a digest of everything it is made of.
key="$( (cd "$root" && cat hack/kind/node-image.sh hack/kind/node/* hack/kind/net/* \
  hack/kind/pause.c hack/engine/runc-bounded-caps "$bin/images.env") | sha256sum | cut -c1-12)"
packages=systemd,systemd-sysv,dbus,iptables,iproute2,ethtool,conntrack,util-linux,mount,kmod,libseccomp2,pigz,ca-certificates,procps,runc,containernetworking-plugins,python3
base="labelpilot.local/kind-base:$(echo "bookworm $packages" | sha256sum | cut -c1-12)"
node="labelpilot.local/kind-node:$K8S_VERSION-$key"
network_image="labelpilot.local/kind-net:$key"
registry="registry.k8s.io"

present() { docker image inspect "$1" >/dev/null 2>&1; }
if present "$node"; then echo "$node"; exit 0; fi

work="$(mktemp -d)"
stage=""
cleanup() {
  [[ -z "$stage" ]] || docker rm -f "$stage" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! present "$base"; then
  echo "building $base (debootstrap)" >&2
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
  debootstrap --variant=minbase --include="$packages" bookworm "$work/rootfs" "$mirror" >&2
  rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/* \
    "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/*
  tar -C "$work/rootfs" -c . | docker import --change 'ENV container=docker' - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi

# image NAME FROM FILE...: an image of the listed files (copied to /usr/local/bin) on FROM,
# with the remaining Dockerfile lines on stdin.
image() {
  local name=$1 from=$2 context file; shift 2
  context="$(mktemp -d -p "$work")"
  { echo "FROM $from"; for file in "$@"; do echo "COPY $(basename "$file") /usr/local/bin/"; done
    echo "ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; cat; } >"$context/Dockerfile"
  cp "$@" "$context/"
  echo "building $name" >&2
  docker build -q -t "$name" "$context" >/dev/null
}
gcc -static -Os -o "$work/pause" "$here/pause.c"
image "$registry/pause:$PAUSE_TAG" scratch "$work/pause" <<<'ENTRYPOINT ["/usr/local/bin/pause"]'
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  image "$registry/$b:$K8S_VERSION" scratch "$bin/$b" </dev/null
done
image "$registry/etcd:$ETCD_TAG" scratch "$bin/etcd" </dev/null
image "$registry/coredns/coredns:$COREDNS_TAG" scratch "$bin/coredns" \
  <<<'ENTRYPOINT ["/usr/local/bin/coredns"]'
image "$registry/kube-proxy:$K8S_VERSION" "$base" "$bin/kube-proxy" </dev/null
cp "$here/net/kind-net.sh" "$work/kind-net"
image "$network_image" "$base" "$bin/kubectl" "$work/kind-net" \
  <<<'ENTRYPOINT ["/usr/local/bin/kind-net"]'
preloaded=("$registry/pause:$PAUSE_TAG" "$registry/etcd:$ETCD_TAG"
           "$registry/coredns/coredns:$COREDNS_TAG" "$network_image")
for b in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
  preloaded+=("$registry/$b:$K8S_VERSION")
done

echo "assembling $node" >&2
context="$work/node"
mkdir -p "$context"
cp "$bin"/{kubeadm,kubelet,kubectl,containerd,ctr,containerd-shim-runc-v2,crictl} "$context/"
cp "$here"/node/{entrypoint,kubelet-cgroups,containerd.service,kubelet.service,crictl.yaml} \
  "$root/hack/engine/runc-bounded-caps" "$context/"
sed "s|PAUSE_IMAGE|$registry/pause:$PAUSE_TAG|" "$here/node/containerd.toml" \
  >"$context/containerd.toml"
sed "s|IMAGE|$network_image|" "$here/net/manifest.yaml" >"$context/default-cni.yaml"
echo "$K8S_VERSION" >"$context/version"
cat >"$context/Dockerfile" <<'DOCKERFILE'
FROM BASE
COPY kubeadm kubelet kubectl /usr/bin/
COPY containerd ctr containerd-shim-runc-v2 crictl entrypoint kubelet-cgroups /usr/local/bin/
COPY runc-bounded-caps /usr/local/sbin/
COPY containerd.toml /etc/containerd/config.toml
COPY crictl.yaml /etc/crictl.yaml
COPY containerd.service kubelet.service /etc/systemd/system/
COPY version /kind/version
COPY default-cni.yaml /kind/manifests/default-cni.yaml
RUN set -e; \
    mkdir -p /etc/kubernetes/manifests /etc/cni/net.d /var/lib/kubelet; \
    for unit in containerd kubelet; do \
      ln -sf "/etc/systemd/system/$unit.service" \
        "/etc/systemd/system/multi-user.target.wants/$unit.service"; \
    done; \
    for unit in getty.target console-getty.service systemd-udevd.service \
        systemd-udevd-control.socket systemd-udevd-kernel.socket systemd-modules-load.service \
        systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount \
        sys-kernel-tracing.mount systemd-timesyncd.service apt-daily.timer \
        apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do \
      ln -sf /dev/null "/etc/systemd/system/$unit"; \
    done
DOCKERFILE
sed -i "s|^FROM BASE|FROM $base|" "$context/Dockerfile"
docker build -q -t "$node-stage" "$context" >/dev/null

echo "preloading ${#preloaded[@]} images into the node's containerd" >&2
stage="$(docker run -d --privileged --entrypoint sleep "$node-stage" infinity)"
docker exec -d "$stage" containerd
for _ in $(seq 60); do
  docker exec "$stage" ctr version >/dev/null 2>&1 && break
  sleep 1
done
docker save "${preloaded[@]}" \
  | docker exec -i "$stage" ctr --namespace=k8s.io images import --no-unpack --all-platforms \
      --label=io.cri-containerd.pinned=pinned - >&2
docker exec "$stage" pkill -x containerd
sleep 2
docker commit "$stage" "$node-preloaded" >/dev/null
docker rm -f "$stage" >/dev/null
stage=""
# systemd stops on SIGRTMIN+3; docker commit cannot set a stop signal, a build can.
printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\nENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]\nCMD []\n' \
  "$node-preloaded" | docker build -q -t "$node" - >/dev/null
docker rmi "$node-preloaded" >/dev/null
docker rmi "$node-stage" >/dev/null
echo "$node"
