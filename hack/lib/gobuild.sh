# shellcheck shell=bash
# Go builds from official sources through the Go module proxy, shared by the binary scripts.
# `go install` refuses modules whose go.mod has local `replace` directives; a wrapper module
# requires MODULE@VERSION and pins each of them (replace lines on stdin) to a published
# version instead.

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
LDFLAGS_BASE="-s -w"

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

# build_kubernetes SRC_CACHE OUT VERSION COMMAND...: k8s.io/kubernetes/cmd/COMMAND binaries,
# stamped with VERSION as a release build would be.
build_kubernetes() {
  local cache=$1 out=$2 version=$3; shift 3
  local dir="$cache/kubernetes-$version" modfile staging ldflags pkg b todo=()
  for b in "$@"; do [[ -x "$out/$b" ]] || todo+=("$b"); done
  [[ ${#todo[@]} -gt 0 ]] || return 0
  staging="v0.${version#v1.}"
  modfile=$(go mod download -json "k8s.io/kubernetes@$version" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  grep -E '^\s+k8s\.io/[^ ]+ => \./staging/' "$modfile" \
    | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}' \
    | wrapper_module "$dir" k8s.io/kubernetes "$version"
  (cd "$dir" && go get "${todo[@]/#/k8s.io/kubernetes/cmd/}")
  ldflags="$LDFLAGS_BASE"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1"
    ldflags+=" -X $pkg.gitMinor=$(echo "$version" | cut -d. -f2) -X $pkg.gitTreeState=clean"
    ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for b in "${todo[@]}"; do
    echo "building $b $version"
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$out/$b.tmp" "k8s.io/kubernetes/cmd/$b")
    mv "$out/$b.tmp" "$out/$b"
  done
}

# build_etcd SRC_CACHE OUT VERSION: the etcd server at VERSION (vX.Y.Z).
build_etcd() {
  local cache=$1 out=$2 version=$3 dir m
  [[ -x "$out/etcd" ]] && return 0
  dir="$cache/etcd-$version"
  for m in go.etcd.io/etcd/api/v3 go.etcd.io/etcd/client/pkg/v3 go.etcd.io/etcd/client/v3 \
           go.etcd.io/etcd/pkg/v3; do
    echo "replace $m => $m $version"
  done | wrapper_module "$dir" go.etcd.io/etcd/server/v3 "$version"
  echo "building etcd $version"
  (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$version" \
    && go build -trimpath -ldflags "$LDFLAGS_BASE" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
}

# go_install OUT NAME PACKAGE@VERSION [LDFLAGS]: one binary of a module that installs as is.
go_install() {
  local out=$1 name=$2 package=$3 ldflags="${4:-}" gobin
  [[ -x "$out/$name" ]] && return 0
  echo "building $name (${package})"
  gobin="$(mktemp -d)"
  GOBIN="$gobin" go install -trimpath -ldflags "$LDFLAGS_BASE $ldflags" "$package"
  mv "$gobin/$(basename "${package%@*}")" "$out/$name"
  rm -rf "$gobin"
}

# build_module OUT NAME DIR: the main package of the module in DIR, at the versions its own
# go.mod and go.sum pin (-mod=readonly: a go.sum that misses something fails the build).
build_module() {
  local out=$1 name=$2 dir=$3
  [[ -x "$out/$name" ]] && return 0
  echo "building $name ($dir)"
  mkdir -p "$out"
  (cd "$dir" && go build -mod=readonly -trimpath -ldflags "$LDFLAGS_BASE" -o "$out/$name.tmp" .)
  mv "$out/$name.tmp" "$out/$name"
}
