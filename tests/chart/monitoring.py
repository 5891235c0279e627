"""The chart's Grafana dashboard and PrometheusRule, as the monitoring tests read them:
the queries of every panel and variable, and the rules as a plain Prometheus rules file."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.chart.helm import one, render

METRIC = re.compile(r"\blabelpilot_[a-z_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


@dataclass(frozen=True)
class Query:
    where: str  # "panel <title> target <refId>" or "variable <name>"
    expr: str


def dashboard(*args: str) -> dict[str, Any]:
    docs = render("--set", "grafana.dashboards.enabled=true", *args)
    configmap = one(docs, "ConfigMap", "labelpilot-dashboard")
    return dict(json.loads(configmap["data"]["labelpilot.json"]))


def panel_queries(board: dict[str, Any], values: dict[str, str]) -> list[Query]:
    """Every panel target's expression, the dashboard's variables replaced by `values`."""
    found = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in values.items():
                expr = expr.replace(f"${name}", value)
            found.append(Query(f"panel {panel['title']!r} target {target['refId']}", expr))
    return found


def variable_queries(board: dict[str, Any]) -> list[Query]:
    """`label_values(...)` of each query variable, as written."""
    return [
        Query(f"variable {var['name']}", var["query"]["query"])
        for var in board["templating"]["list"]
        if var["type"] == "query"
    ]


def rules(*args: str) -> dict[str, Any]:
    """The PrometheusRule's spec: a rules file as Prometheus' rule_files reads it."""
    docs = render("--set", "prometheusRule.enabled=true", *args)
    return dict(one(docs, "PrometheusRule")["spec"])


def write_rules(path: Path, *args: str) -> Path:
    path.write_text(yaml.safe_dump(rules(*args), sort_keys=False))
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing (Debian: apt-get install prometheus; hack/host-packages.sh)"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)


def metric_names(expr: str) -> set[str]:
    return set(METRIC.findall(expr))


def exported_names() -> set[str]:
    """The series names the operator exports (labelpilot.controller.prometheus_metrics)."""
    from prometheus_client import REGISTRY

    import labelpilot.controller.prometheus_metrics  # noqa: F401  (registers them)

    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("labelpilot_")
        for suffix in SUFFIXES.get(family.type, ())
    }
