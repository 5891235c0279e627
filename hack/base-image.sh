#!/usr/bin/env bash
# The Python base image the Dockerfiles build on (their PYTHON_IMAGE build argument).
# Prints the image to use: the upstream image when the engine has it or can pull it;
# otherwise (no registry reachable) an equivalent built here once from Debian's packages,
# `labelpilot.local/python:3.11-bookworm`: debootstrap of bookworm with python3, venv and
# CA certificates, plus this machine's CA bundle and pip's certificate setting so that pip
# inside an image build reaches PyPI the way this machine does. Needs DOCKER_HOST (see
# hack/docker-engine.sh), root and debootstrap (installed from Debian when missing).
set -euo pipefail

upstream="${UPSTREAM_PYTHON_IMAGE:-python:3.11.11-slim-bookworm}"
local_image="labelpilot.local/python:3.11-bookworm"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
host_bundle=/etc/ssl/certs/ca-certificates.crt

present() { docker image inspect "$1" >/dev/null 2>&1; }

if present "$upstream"; then echo "$upstream"; exit 0; fi
if [[ "${LABELPILOT_PULL_BASE:-1}" == 1 ]] && timeout 60 docker pull -q "$upstream" >/dev/null 2>&1
then
  echo "$upstream"; exit 0
fi
if present "$local_image"; then echo "$local_image"; exit 0; fi

if ! command -v debootstrap >/dev/null; then
  echo "installing debootstrap (Debian)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q debootstrap >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q debootstrap >/dev/null; }
fi
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
echo "building $local_image with debootstrap ($upstream cannot be pulled)" >&2
debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
  bookworm "$rootfs" "$mirror" >&2
if [[ -s "$host_bundle" ]]; then
  cp "$host_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$rootfs/etc/pip.conf"
fi
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/* "$rootfs"/var/log/*
tar -C "$rootfs" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$local_image" >/dev/null
echo "$local_image"
