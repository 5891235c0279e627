"""The kopf handlers read the operator's settings when kopf starts, not when imported:
`labelpilot operator` imports the controller before it turns its flags into settings."""

from __future__ import annotations

import logging
import os

import kopf
import pytest

from labelpilot import cli
from labelpilot.controller import handlers
from labelpilot.controller.policy import Policy
from labelpilot.controller.settings import ENV_PREFIX


def test_the_flags_reach_the_handlers_settings(monkeypatch, tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("images: [registry.example.com/ml/*]\n")
    monkeypatch.setattr(os, "environ", os.environ.copy())
    monkeypatch.setattr(kopf, "run", lambda **_: None)
    monkeypatch.setattr(handlers, "_state", {})
    assert cli.main(["operator", "-n", "team-a", "--metrics-port", "0", "--policy", str(path),
                     "--image", "registry.example.com/ml/worker:1"]) == 0
    settings = handlers.operator_settings()
    assert settings.job.image == "registry.example.com/ml/worker:1"
    assert settings.job.policy == Policy.from_file(path)
    assert settings.metrics_port is None and settings.scanning is False


def test_bad_settings_stop_the_operator_at_startup(monkeypatch, tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("volumeClaims: data-claim\n")
    monkeypatch.setenv(ENV_PREFIX + "POLICY_FILE", str(path))
    monkeypatch.setattr(handlers, "_state", {})
    with pytest.raises(kopf.PermanentError, match="volumeClaims"):
        handlers.configure(settings=kopf.OperatorSettings(),
                           logger=logging.getLogger("test"))
