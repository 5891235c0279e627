"""hack/engine/runc-bounded-caps: capabilities outside the bounding set leave the config."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def wrapper():
    path = str(REPO / "hack/engine/runc-bounded-caps")
    loader = importlib.machinery.SourceFileLoader("runc_bounded_caps", path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_names_follow_the_kernels_numbering():
    names = wrapper().NAMES
    assert names[0] == "CHOWN" and names[21] == "SYS_ADMIN" and names[24] == "SYS_RESOURCE"
    assert names[40] == "CHECKPOINT_RESTORE" and len(set(names)) == len(names)


def test_bounding_set_is_read_from_proc():
    caps = wrapper().bounding_set()
    status = Path("/proc/self/status").read_text()
    mask = int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16
    )
    assert len(caps) == bin(mask & (2**41 - 1)).count("1")


def test_create_and_exec_keep_only_what_the_machine_can_grant(tmp_path):
    w = wrapper()
    allowed = {"CAP_CHOWN", "CAP_SYS_ADMIN"}
    every = ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"]
    config = {
        "ociVersion": "1.0.2",
        "process": {
            "args": ["sh"],
            "capabilities": {
                kind: list(every) for kind in ("bounding", "effective", "permitted", "ambient")
            },
        },
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    w.rewrite(str(tmp_path / "config.json"), allowed, whole_config=True)
    written = json.loads((tmp_path / "config.json").read_text())
    assert all(
        caps == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
        for caps in written["process"]["capabilities"].values()
    )
    assert written["process"]["args"] == ["sh"]
    process = {"args": ["id"], "capabilities": {"bounding": every}}
    (tmp_path / "process.json").write_text(json.dumps(process))
    w.rewrite(str(tmp_path / "process.json"), allowed, whole_config=False)
    assert json.loads((tmp_path / "process.json").read_text())["capabilities"] == {
        "bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    }


def test_options_are_found_in_both_spellings():
    w = wrapper()
    assert w.option(["--root", "/r", "create", "--bundle", "/b", "id"], "--bundle", "-b") == "/b"
    assert w.option(["run", "-b=/x", "id"], "--bundle", "-b") == "/x"
    assert w.option(["exec", "id"], "--process", "-p") is None
