#!/usr/bin/env bash
# Builds the three images from the repository root: labelpilot/{operator,worker,worker-gpu}.
#
#   hack/build-images.sh [TAG]            # default tag: dev
#   IMAGES="operator worker" hack/build-images.sh
#
# Without a registry (no upstream Python base can be pulled) the base is built here
# (hack/base-image.sh); a PyTorch wheel index this machine cannot reach is left out, and
# torch comes from PyPI. Needs a Docker engine (hack/docker-engine.sh starts one).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="${1:-dev}"
prefix="${IMAGE_PREFIX:-labelpilot}"
read -r -a images <<<"${IMAGES:-operator worker worker-gpu}"

DOCKER_HOST="$("$root/hack/docker-engine.sh")"
export DOCKER_HOST
base="$("$root/hack/base-image.sh")"

# The Dockerfile's default wheel index for torch, or nothing when it cannot be reached.
torch_index() {
  local url
  url="$(sed -n 's/^ARG TORCH_INDEX_URL=//p' "$root/images/$1/Dockerfile")"
  [[ -n "$url" ]] || return 0
  if curl -fsS --max-time 15 -o /dev/null "$url/"; then
    echo "$url"
  else
    echo "$url cannot be reached: torch from PyPI for $1" >&2
  fi
}

for image in "${images[@]}"; do
  args=(--build-arg "PYTHON_IMAGE=$base")
  if grep -q '^ARG TORCH_INDEX_URL=' "$root/images/$image/Dockerfile"; then
    args+=(--build-arg "TORCH_INDEX_URL=$(torch_index "$image")")
  fi
  echo "building $prefix/$image:$tag (base $base)" >&2
  replaced="$(docker image inspect -f '{{.Id}}' "$prefix/$image:$tag" 2>/dev/null || true)"
  docker build -q -f "$root/images/$image/Dockerfile" "${args[@]}" -t "$prefix/$image:$tag" \
    "$root" >/dev/null
  # The image this tag named before is removed once nothing else names it (6 GB a worker).
  if [[ -n "$replaced" && "$replaced" != "$(docker image inspect -f '{{.Id}}' \
      "$prefix/$image:$tag")" ]]; then
    docker image rm "$replaced" >/dev/null 2>&1 || true
  fi
  docker image inspect -f "{{.Size}}" "$prefix/$image:$tag" \
    | awk -v name="$prefix/$image:$tag" '{printf "%s %.0f MB\n", name, $1 / 1e6}'
done
