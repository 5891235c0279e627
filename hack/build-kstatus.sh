#!/usr/bin/env bash
# Builds hack/kstatus, which prints the status kstatus (sigs.k8s.io/cli-utils, the library
# Flux judges custom resources with) computes for each object it reads, through the Go
# module proxy at the versions hack/kstatus/go.mod and go.sum pin.
# Output: $LABELPILOT_CACHE/bin/kstatus-<hash of its sources>/kstatus; built once.
# --print-path: print where the binary is (or will be) and build nothing.
set -euo pipefail
# shellcheck source=hack/lib/gobuild.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/gobuild.sh"

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/kstatus" && pwd)"
CACHE="${LABELPILOT_CACHE:-$HOME/.cache/labelpilot}"
KEY="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC"/*.go | sha256sum | cut -c1-16)"
OUT="$CACHE/bin/kstatus-$KEY"

if [[ "${1:-}" == "--print-path" ]]; then echo "$OUT/kstatus"; exit 0; fi
build_module "$OUT" kstatus "$SRC"
echo "kstatus ready: $OUT/kstatus"
