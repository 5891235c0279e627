#!/usr/bin/env bash
# Times a cold build of the dev cluster's binaries: empty Go build and module caches.
# Usage: benchmarks/cold_build.sh   (about 20-40 minutes on 2 cores; writes BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'chmod -R u+w "$scratch"; rm -rf "$scratch"' EXIT
start=$(date +%s)
GOCACHE="$scratch/gocache" GOMODCACHE="$scratch/gomod" LABELPILOT_CACHE="$scratch/cache" \
  bash hack/build-binaries.sh >"$scratch/build.log" 2>&1
seconds=$(( $(date +%s) - start ))
.venv/bin/python - "$seconds" <<'PY'
import sys
from benchmarks.common import machine, git_revision, write_section
seconds = int(sys.argv[1])
write_section("cold-build", f"""## Cold build of the binaries

Machine: {machine()}; revision {git_revision()}.
Command: `benchmarks/cold_build.sh` (empty GOCACHE, GOMODCACHE and binary cache)

| what | minutes |
|---|---|
| etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, helm | {seconds / 60:.1f} |
""")
PY
echo "cold build: ${seconds}s"
