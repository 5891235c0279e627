#!/usr/bin/env bash
# Debian packages the tests use on the host (strace: tests/cluster/test_faults.py pauses a
# step at a chosen file operation; prometheus, with promtool: tests/chart/test_monitoring.py
# checks the chart's alerts and dashboard, tests/cluster/test_dashboards.py runs a
# Prometheus of its own against the operator; the package's service is not used).
# Installs what is missing; needs root when it must.
set -euo pipefail

missing=()
command -v strace >/dev/null || missing+=(strace)
{ command -v prometheus && command -v promtool; } >/dev/null || missing+=(prometheus)
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "missing: ${missing[*]}; run 'apt-get install -y ${missing[*]}' as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null \
  || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
