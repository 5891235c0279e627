#!/usr/bin/env bash
# Builds the dev cluster's binaries from official sources through the Go module proxy:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes),
# etcd (go.etcd.io/etcd/server/v3) and helm (helm.sh/helm/v3).
# Output: $LABELPILOT_CACHE/bin/<versions-key>/; a finished build is never redone.
set -euo pipefail

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
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
LDFLAGS_BASE="-s -w"

# `go install` refuses modules whose go.mod has local `replace` directives; a wrapper
# module requires MODULE@VERSION and pins each of them (replace lines on stdin) to a
# published version instead.
wrapper_module() {
  local dir=$1 module=$2 version=$3
  rm -rf "$dir"; mkdir -p "$dir"
  {
    echo "module labelpilot.dev/build/$(basename "$dir")"
    echo
    echo "go $(go env GOVERSION | sed 's/^go//')"
    echo
    echo "require $module $version"
    echo
    cat  # replace lines for the staging / sibling modules
  } >"$dir/go.mod"
}

build_kubernetes() {
  local dir="$CACHE/src/kubernetes-$K8S_VERSION"
  local modfile staging_version b cmds=()
  staging_version="v0.${K8S_VERSION#v1.}"
  modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  grep -E '^\s+k8s\.io/[^ ]+ => \./staging/' "$modfile" \
    | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}' \
    | wrapper_module "$dir" k8s.io/kubernetes "$K8S_VERSION"
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    cmds+=("k8s.io/kubernetes/cmd/$b@$K8S_VERSION")
  done
  (cd "$dir" && go get "${cmds[@]}")
  local ldflags="$LDFLAGS_BASE"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1"
    ldflags+=" -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X $pkg.gitTreeState=clean"
    ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [[ -x "$OUT/$b" ]] && continue
    echo "building $b $K8S_VERSION"
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$OUT/$b.tmp" "k8s.io/kubernetes/cmd/$b")
    mv "$OUT/$b.tmp" "$OUT/$b"
  done
}

build_etcd() {
  [[ -x "$OUT/etcd" ]] && return 0
  local dir="$CACHE/src/etcd-$ETCD_VERSION"
  local m
  for m in go.etcd.io/etcd/api/v3 go.etcd.io/etcd/client/pkg/v3 go.etcd.io/etcd/client/v3 go.etcd.io/etcd/pkg/v3; do
    echo "replace $m => $m $ETCD_VERSION"
  done | wrapper_module "$dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  echo "building etcd $ETCD_VERSION"
  (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
    && go build -trimpath -ldflags "$LDFLAGS_BASE" -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$OUT/etcd.tmp" "$OUT/etcd"
}

build_helm() {
  [[ -x "$OUT/helm" ]] && return 0
  echo "building helm $HELM_VERSION"
  local gobin="$CACHE/src/helm-$HELM_VERSION"
  GOBIN="$gobin" go install -trimpath \
    -ldflags "$LDFLAGS_BASE -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$gobin/helm" "$OUT/helm"
}

build_etcd
build_kubernetes
build_helm
all_built
echo "binaries ready in $OUT"
