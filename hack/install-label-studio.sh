#!/usr/bin/env bash
# Label Studio (its own virtual environment: its pinned dependencies would clash with the
# worker's), at the versions requirements/label-studio.txt locks, and Debian's Chromium with
# its driver, for the Label Studio tests. A second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCK=requirements/label-studio.txt
VENV="${LABELPILOT_LABEL_STUDIO_VENV:-.venv-labelstudio}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed-$(sha256sum "$LOCK" | cut -c1-16)"

if [[ ! -f "$STAMP" ]]; then
  echo "installing label-studio into $VENV from $LOCK"
  test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
  export PIP_CONSTRAINT="$PWD/$LOCK"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r requirements/label-studio.in
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [[ "$(id -u)" != 0 ]]; then
    echo "Chromium is missing: run 'apt-get install -y chromium chromium-driver' as root" >&2
    exit 1
  fi
  echo "installing chromium and chromium-driver (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
    || { apt-get update -q >/dev/null &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }
fi
