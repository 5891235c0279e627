"""`labelpilot operator --policy FILE`: the operator's allow-list (docs/security.md)."""

from __future__ import annotations

import kopf

from labelpilot import cli
from labelpilot.controller.handlers import SETTINGS
from labelpilot.controller.policy import Policy
from labelpilot.controller.settings import OperatorSettings


def test_the_policy_file_reaches_the_job_settings(monkeypatch, tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("images: [registry.example.com/ml/*]\nvolumeClaims: [data]\n")
    started = {}
    monkeypatch.setattr(kopf, "run", lambda **kwargs: started.update(kwargs))
    assert cli.main(["operator", "-n", "team-a", "--metrics-port", "0", "--policy", str(path)]) == 0
    settings = started["memo"][SETTINGS]
    assert settings.job.policy == Policy.from_file(path)
    assert settings.job.policy.volume_claims.allows("data")


def test_without_a_policy_file_the_operator_applies_the_safe_defaults():
    assert OperatorSettings.from_env({}).job.policy == Policy()


def test_a_bad_policy_file_stops_the_operator_naming_the_field(monkeypatch, tmp_path, capsys):
    path = tmp_path / "policy.yaml"
    path.write_text("volumeClaims: data-claim\n")
    started = {}
    monkeypatch.setattr(kopf, "run", lambda **kwargs: started.update(kwargs))
    assert cli.main(["operator", "--policy", str(path)]) == 2
    assert not started
    error = capsys.readouterr().err
    assert error.startswith("labelpilot operator: invalid policy file")
    assert "volumeClaims" in error and "Traceback" not in error
    assert cli.main(["operator", "--policy", str(tmp_path / "absent.yaml")]) == 2
    assert "cannot read policy file" in capsys.readouterr().err
