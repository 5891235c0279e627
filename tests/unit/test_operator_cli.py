"""`labelpilot operator` starts kopf without needing a passwd entry for its uid."""

from __future__ import annotations

import getpass

import kopf

from labelpilot import cli


def test_operator_names_itself_without_the_passwd_database(monkeypatch):
    def no_passwd_entry() -> str:
        raise KeyError("getpwuid(): uid not found: 65532")

    started = {}
    monkeypatch.setattr(getpass, "getuser", no_passwd_entry)
    monkeypatch.setattr(kopf, "run", lambda **kwargs: started.update(kwargs))
    for key in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.delenv(key, raising=False)
    assert cli.main(["operator", "-n", "team-a", "--metrics-port", "0"]) == 0
    assert started["identity"].startswith("labelpilot@")
    assert started["namespaces"] == ["team-a"] and started["standalone"] is True
