"""Which optional dependencies a command needs, and the one line it prints without them.

The base install is what the operator imports (pyproject.toml's dependencies); the
`worker` extra adds the engine's and the models' libraries. A command that needs an extra
says so in its parser (`set_defaults(extra="worker")`), and `labelpilot` checks before it
runs the command, so a base install answers with the command to run, not a traceback.
"""

from __future__ import annotations

import importlib.util

WORKER = "worker"
# An extra's libraries, by import name, with the distribution that provides each.
MODULES: dict[str, dict[str, str]] = {
    WORKER: {
        "numpy": "numpy",
        "scipy": "scipy",
        "fsspec": "fsspec",
        "PIL": "pillow",
        "torch": "torch",
        "matplotlib": "matplotlib",
    },
}


def missing(extra: str | None) -> list[str]:
    """The distributions of `extra` that cannot be imported here (none for no extra)."""
    if extra is None:
        return []
    return [
        dist for module, dist in MODULES[extra].items() if importlib.util.find_spec(module) is None
    ]


def message(command: str, extra: str, absent: list[str]) -> str:
    return (
        f"labelpilot {command}: needs the {extra} extra (pip install "
        f"'labelpilot[{extra}]'); missing: {', '.join(absent)}"
    )
