"""The chart's Grafana dashboard ConfigMap and PrometheusRule alerts (both optional)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.chart.helm import CHART, helm, kinds, one, render
from tests.chart.monitoring import (
    dashboard,
    exported_names,
    metric_names,
    panel_queries,
    promtool,
    rules,
    variable_queries,
    write_rules,
)

ALERTS_TEST = Path(__file__).with_name("alerts_test.yaml")
ALL = {"namespace": ".*", "labelingjob": ".*", "__rate_interval": "5m"}


def test_both_are_off_by_default() -> None:
    docs = render()
    assert "PrometheusRule" not in kinds(docs)
    names = [d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"]
    assert "labelpilot-dashboard" not in names


def test_the_dashboard_configmap_carries_the_sidecars_label() -> None:
    docs = render("--set", "grafana.dashboards.enabled=true")
    configmap = one(docs, "ConfigMap", "labelpilot-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == "labelpilot-system"
    docs = render(
        "--set",
        "grafana.dashboards.enabled=true",
        "--set",
        "grafana.dashboards.label=team-dashboards",
        "--set",
        "grafana.dashboards.labelValue=ml",
        "--set",
        "grafana.dashboards.namespace=monitoring",
        "--set",
        "grafana.dashboards.annotations.grafana_folder=LabelPilot",
    )
    configmap = one(docs, "ConfigMap", "labelpilot-dashboard")
    assert configmap["metadata"]["labels"]["team-dashboards"] == "ml"
    assert "grafana_dashboard" not in configmap["metadata"]["labels"]
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "LabelPilot"}


def test_every_panel_reads_the_chosen_data_source_and_exported_metrics() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    exported = exported_names()
    queries = panel_queries(board, {}) + variable_queries(board)
    assert len(queries) >= 15
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            assert panel["datasource"]["uid"] == target["datasource"]["uid"] == "${datasource}"
    for query in queries:
        names = metric_names(query.expr)
        assert names, query
        assert names <= exported, (query, names - exported)
    titles = [p["title"] for p in board["panels"] if p["type"] != "row"]
    assert len(titles) == len(set(titles))


def test_every_panel_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool checks PromQL in rules files: each query becomes a recording rule
    queries = panel_queries(dashboard(), ALL)
    group = {
        "name": "dashboard",
        "rules": [{"record": f"dashboard:query{i}", "expr": q.expr} for i, q in enumerate(queries)],
    }
    path = tmp_path / "dashboard.yaml"
    path.write_text(yaml.safe_dump({"groups": [group]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_pass_promtool_check_and_read_only_exported_metrics(tmp_path: Path) -> None:
    result = promtool("check", "rules", str(write_rules(tmp_path / "rules.yaml")))
    assert result.returncode == 0, result.stdout + result.stderr
    alerts = {r["alert"]: r for r in rules()["groups"][0]["rules"]}
    assert set(alerts) == {
        "LabelPilotJobStalled",
        "LabelPilotStepFailing",
        "LabelPilotHumanQueueStuck",
    }
    for rule in alerts.values():
        assert metric_names(rule["expr"]) <= exported_names(), rule["alert"]
        assert "{{ $labels.labelingjob }}" in rule["annotations"]["summary"]


def test_the_alerts_fire_when_they_should_and_not_otherwise(tmp_path: Path) -> None:
    write_rules(tmp_path / "rules.yaml")
    shutil.copy(ALERTS_TEST, tmp_path / ALERTS_TEST.name)
    result = promtool("test", "rules", str(tmp_path / ALERTS_TEST.name))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_thresholds_and_labels_come_from_values() -> None:
    spec = rules(
        "--set",
        "prometheusRule.jobStalled.seconds=600",
        "--set",
        "prometheusRule.stepFailing.failures=5",
        "--set",
        "prometheusRule.stepFailing.window=30m",
        "--set",
        "prometheusRule.humanQueueStuck.for=1h",
        "--set",
        "prometheusRule.alertLabels.team=ml",
    )
    alerts = {r["alert"]: r for r in spec["groups"][0]["rules"]}
    assert "> 600" in alerts["LabelPilotJobStalled"]["expr"]
    assert "[30m]) >= 5" in alerts["LabelPilotStepFailing"]["expr"]
    assert alerts["LabelPilotHumanQueueStuck"]["for"] == "1h"
    assert all(rule["labels"]["team"] == "ml" for rule in alerts.values())
    docs = render(
        "--set", "prometheusRule.enabled=true", "--set", "prometheusRule.labels.release=kps"
    )
    assert one(docs, "PrometheusRule")["metadata"]["labels"]["release"] == "kps"


def test_bad_alert_values_are_refused_naming_the_field() -> None:

    result = helm("template", "x", str(CHART), "--set", "prometheusRule.stepFailing.window=an hour")
    assert result.returncode != 0
    assert "stepFailing" in result.stderr and "window" in result.stderr
