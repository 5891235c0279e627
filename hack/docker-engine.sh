#!/usr/bin/env bash
# A Docker engine for the container tests, kind and the images:
# - an engine that already answers (DOCKER_HOST, or the default socket) is used as it is;
# - otherwise Debian's docker.io is installed where dockerd is missing (root only), and a
#   dockerd of the project's own is started: data root, socket, pid file and log under
#   $LABELPILOT_CACHE/docker, nothing of the system's engine touched;
# - where this machine's capability bounding set lacks a capability (some sandboxes drop
#   CAP_SYS_RESOURCE, so runc refuses privileged containers such as kind's nodes), that
#   dockerd runs containers through hack/engine/runc-bounded-caps, which drops what cannot be
#   granted. Nothing of this reaches the images or what users run.
#
#   hack/docker-engine.sh          # ensure an engine; prints the DOCKER_HOST to use
#   hack/docker-engine.sh --stop   # stop the project's own dockerd, if it runs
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${LABELPILOT_CACHE:-$HOME/.cache/labelpilot}"
state="$cache/docker"
socket="unix://$state/docker.sock"
pidfile="$state/dockerd.pid"

answers() { DOCKER_HOST="$1" docker info >/dev/null 2>&1; }

own_running() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

if [[ "${1:-}" == "--stop" ]]; then
  if own_running; then
    kill "$(cat "$pidfile")"
    for _ in $(seq 60); do own_running || exit 0; sleep 0.5; done
    echo "dockerd $(cat "$pidfile") did not stop" >&2; exit 1
  fi
  exit 0
fi

if answers "${DOCKER_HOST:-}"; then
  echo "${DOCKER_HOST:-unix:///var/run/docker.sock}"; exit 0
fi
if answers "$socket"; then
  echo "$socket"; exit 0
fi

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  if [[ "$(id -u)" != 0 ]]; then
    echo "no Docker engine answers and dockerd is missing: install Docker (or Podman's" \
         "docker-compatible socket and set DOCKER_HOST)" >&2
    exit 1
  fi
  echo "installing docker.io (Debian)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q docker.io >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q docker.io >/dev/null; }
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "no Docker engine answers; starting one needs root (or start your own and set" \
       "DOCKER_HOST)" >&2
  exit 1
fi

mkdir -p "$state"
args=(--data-root "$state/data" --exec-root /run/labelpilot-docker --pidfile "$pidfile"
      -H "$socket")
bounding=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
last_cap=$(cat /proc/sys/kernel/cap_last_cap)
if (( 16#$bounding != (1 << (last_cap + 1)) - 1 )); then
  echo "capability bounding set $bounding lacks capabilities: runc through runc-bounded-caps" >&2
  install -m 0755 "$root/hack/engine/runc-bounded-caps" "$state/runc-bounded-caps"
  args+=(--add-runtime "bounded-caps=$state/runc-bounded-caps"
         --default-runtime bounded-caps)
fi
echo "starting dockerd ($state, log dockerd.log)" >&2
setsid dockerd "${args[@]}" >>"$state/dockerd.log" 2>&1 < /dev/null &
for _ in $(seq 120); do
  if answers "$socket"; then echo "$socket"; exit 0; fi
  sleep 0.5
done
echo "dockerd did not answer within 60 s; see $state/dockerd.log" >&2
tail -n 20 "$state/dockerd.log" >&2
exit 1
