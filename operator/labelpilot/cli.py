"""The `labelpilot` command: one sub-command per module, each registering its own parser."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from labelpilot import extras

# Each module exposes `register(subparsers)`, which adds its parser and sets `func` (and
# `extra` when the command needs an optional dependency set: labelpilot.extras). A command
# imports only its own module: a step pod's `labelpilot worker` never loads the operator.
COMMAND_MODULES = {
    "crd": "labelpilot.api.cli",
    "operator": "labelpilot.controller.cli",
    "datasets": "labelpilot.datasets.cli",
    "worker": "labelpilot.worker.cli",
    "run": "labelpilot.worker.in_process",
    "report": "labelpilot.engine.report_plot",
    "export": "labelpilot.engine.exports.cli",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: its command's alone when argv names one, else every command's
    (for --help and for errors that list them)."""
    parser = argparse.ArgumentParser(prog="labelpilot", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = next(iter(argv or ()), None)
    names = [command] if command in COMMAND_MODULES else list(COMMAND_MODULES)
    for name in names:
        importlib.import_module(COMMAND_MODULES[name]).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    extra = getattr(args, "extra", None)
    absent = extras.missing(extra)
    if extra and absent:
        print(extras.message(args.command, extra, absent), file=sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
