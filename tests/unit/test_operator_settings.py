"""The operator's settings reach the kopf handlers in kopf's memo, built when kopf starts:
from `labelpilot operator`'s flags, else (`kopf run -m`) from the environment."""

from __future__ import annotations

import logging
import os

import kopf
import pytest

from labelpilot import cli
from labelpilot.controller import handlers
from labelpilot.controller.policy import Policy
from labelpilot.controller.reconciler import Reconciler
from labelpilot.controller.settings import ENV_PREFIX, OperatorSettings


@pytest.fixture
def kopf_run(monkeypatch):
    started: dict = {}
    monkeypatch.setattr(kopf, "run", lambda **kwargs: started.update(kwargs))
    return started


def test_the_flags_reach_the_handlers_in_the_memo_and_not_the_environment(
    monkeypatch, tmp_path, kopf_run
):
    path = tmp_path / "policy.yaml"
    path.write_text("images: [registry.example.com/ml/*]\n")
    before = dict(os.environ)
    assert (
        cli.main(
            [
                "operator",
                "-n",
                "team-a",
                "--metrics-port",
                "0",
                "--policy",
                str(path),
                "--image",
                "registry.example.com/ml/worker:1",
                "--workers",
                "4",
            ]
        )
        == 0
    )
    assert dict(os.environ) == before
    settings = kopf_run["memo"][handlers.SETTINGS]
    assert settings.job.image == "registry.example.com/ml/worker:1"
    assert settings.job.policy == Policy.from_file(path)
    assert settings.metrics_port is None and settings.scanning is False
    assert settings.workers == 4


def test_startup_builds_the_operator_from_the_memos_settings(monkeypatch):
    monkeypatch.setenv(ENV_PREFIX + "POLICY_FILE", "/nonexistent/policy.yaml")
    started: list[OperatorSettings] = []

    def start(settings: OperatorSettings, reconciler: Reconciler | None = None) -> str:
        started.append(settings)
        return "operator"

    monkeypatch.setattr(handlers.Operator, "start", start)
    settings = OperatorSettings(metrics_port=None, scanning=False)
    memo = handlers.memo_of(settings)
    kopf_settings = kopf.OperatorSettings()
    handlers.configure(settings=kopf_settings, memo=memo, logger=logging.getLogger("test"))
    assert started == [settings] and memo[handlers.OPERATOR] == "operator"
    assert kopf_settings.scanning.disabled is True


def test_bad_settings_stop_the_operator_at_startup(monkeypatch, tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("volumeClaims: data-claim\n")
    monkeypatch.setenv(ENV_PREFIX + "POLICY_FILE", str(path))
    memo = kopf.Memo()
    with pytest.raises(kopf.PermanentError, match="volumeClaims"):
        handlers.configure(
            settings=kopf.OperatorSettings(), memo=memo, logger=logging.getLogger("test")
        )
    assert handlers.OPERATOR not in memo
