"""The chart's Grafana dashboard and alerts against a real Prometheus scraping the operator.

Two LabelingJobs run: one whose people answer slowly (its human rounds wait), one whose
manifest does not exist (its prepare step fails). Every dashboard query must then return
data, evaluated at a moment people were at work, and each alert, its thresholds made
short, must have fired for the job that met its condition.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.chart.monitoring import dashboard, panel_queries, variable_queries, write_rules
from tests.cluster.kubeutil import wait_for
from tests.cluster.operator_fixtures import (
    GROUP,
    PLURAL,
    VERSION,
    OperatorProcess,
    bind_host_folder,
    labeling_job,
    wait_phase,
)
from tests.cluster.prometheus import PrometheusServer

DIGITS = 150
LABELS = [str(d) for d in range(10)]
# The chart's alerts with thresholds a short test can reach.
SHORT_ALERTS = (
    *("--set", "prometheusRule.jobStalled.seconds=1"),
    *("--set", "prometheusRule.jobStalled.for=0s"),
    *("--set", "prometheusRule.stepFailing.failures=1"),
    *("--set", "prometheusRule.stepFailing.window=30m"),
    *("--set", "prometheusRule.stepFailing.for=0s"),
    *("--set", "prometheusRule.humanQueueStuck.seconds=5"),
    *("--set", "prometheusRule.humanQueueStuck.for=0s"),
)
LABEL_VALUES = re.compile(r"^label_values\((?P<match>.+), (?P<label>\w+)\)$")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from labelpilot.datasets.prepare import prepare

    root = tmp_path_factory.mktemp("dashboards-data")
    prepare("digits", root / "digits", limit=DIGITS, seed=1)
    return root


@pytest.fixture(scope="module")
def prometheus(
    operator: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    folder = tmp_path_factory.mktemp("prometheus")
    rules = write_rules(folder / "rules.yaml", *SHORT_ALERTS)
    server = PrometheusServer(folder, f"127.0.0.1:{operator.metrics_port}", [rules])
    server.start()
    try:
        wait_for(server.up, 60, interval=0.5, what="Prometheus to scrape the operator")
        yield server
    finally:
        server.stop()


def _last_moment(prometheus: PrometheusServer, expr: str, since: float) -> float:
    """The last moment `expr` had a value, from a range query at 1s steps."""
    data = prometheus.api(
        "query_range", query=expr, start=f"{since:.0f}", end=f"{time.time():.0f}", step="1"
    )
    moments = [float(t) for series in data["result"] for t, _ in series["values"]]
    assert moments, f"{expr} never had a value"
    return max(moments)


def _fired(prometheus: PrometheusServer, alert: str, namespace: str) -> set[str]:
    """The LabelingJobs `alert` fired for in the last 30 minutes."""
    series = prometheus.query(
        f'max_over_time(ALERTS{{alertname="{alert}", alertstate="firing", '
        f'namespace="{namespace}"}}[30m])'
    )
    return {s["metric"]["labelingjob"] for s in series}


def test_every_dashboard_query_and_alert_has_data(
    kube_api: client.ApiClient,
    namespace: str,
    data_root: Path,
    prometheus: PrometheusServer,
) -> None:
    started = time.time()
    custom = client.CustomObjectsApi(kube_api)
    volume = bind_host_folder(client.CoreV1Api(kube_api), namespace, data_root)
    data = data_root / "digits"
    people = labeling_job(
        "people",
        data,
        volume,
        LABELS,
        humanTaskConfig={
            "maxConcurrentTaskCount": 100,
            "pollIntervalSeconds": 5,
            "workforce": {
                "simulated": {
                    "groundTruthManifestUri": f"file://{data}/ground-truth.manifest",
                    "latencySeconds": 30,
                }
            },
        },
    )
    missing = labeling_job(
        "missing", data, volume, LABELS, input={"manifestUri": f"file://{data}/nope.manifest"}
    )
    for body in (people, missing):
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    done = wait_phase(custom, namespace, "people", ("Completed", "Failed"), timeout=900)
    assert done["status"]["phase"] == "Completed", done["status"].get("conditions")
    failed = wait_phase(custom, namespace, "missing", ("Completed", "Failed"))
    assert failed["status"]["phase"] == "Failed"
    time.sleep(5)  # a few more scrapes and rule evaluations

    # every panel, at a moment people were at work on a batch of "people"
    waiting = _last_moment(
        prometheus,
        f'labelpilot_human_queue_objects{{namespace="{namespace}", labelingjob="people"}} > 0',
        started,
    )
    board = dashboard()
    values = {"namespace": namespace, "labelingjob": ".*", "__rate_interval": "10m"}
    queries = panel_queries(board, values)
    empty = [q for q in queries if not prometheus.query(q.expr, at=waiting)]
    assert not empty, f"no data at {waiting:.0f} for: {empty}"

    for query in variable_queries(board):
        parsed = LABEL_VALUES.match(query.expr.replace("$namespace", namespace))
        assert parsed, query
        found = prometheus.api(f"label/{parsed['label']}/values", **{"match[]": parsed["match"]})
        expected = {"namespace": {namespace}, "labelingjob": {"people", "missing"}}
        assert expected[parsed["label"]] <= set(found), (query, found)

    def one_value(expr: str) -> float:
        result = prometheus.query(expr)
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    where = f'namespace="{namespace}"'
    assert one_value(f'sum(labelpilot_labels{{{where}, labelingjob="people"}})') == DIGITS
    assert (
        one_value(f'labelpilot_job_phase{{{where}, labelingjob="people", phase="Completed"}}')
        == 1.0
    )
    assert (
        one_value(
            f'labelpilot_step_failures_total{{{where}, labelingjob="missing", step="prepare"}}'
        )
        >= 1.0
    )

    # each alert fired for the job that met its condition, and only the failing one failed
    assert _fired(prometheus, "LabelPilotStepFailing", namespace) == {"missing"}
    assert _fired(prometheus, "LabelPilotHumanQueueStuck", namespace) == {"people"}
    assert "people" in _fired(prometheus, "LabelPilotJobStalled", namespace)
    # finished jobs neither stall nor wait
    still: list[dict[str, Any]] = prometheus.query(
        f'ALERTS{{alertname=~"LabelPilotJobStalled|LabelPilotHumanQueueStuck", {where}}}'
    )
    assert still == []
