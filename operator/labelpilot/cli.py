"""The `labelpilot` command: one sub-command per module, each registering its own parser."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from labelpilot import extras

# Each module exposes `register(subparsers)`, which adds its parser and sets `func` (and
# `extra` when the command needs an optional dependency set: labelpilot.extras).
COMMAND_MODULES = (
    "labelpilot.api.cli",
    "labelpilot.controller.cli",
    "labelpilot.datasets.cli",
    "labelpilot.worker.cli",
    "labelpilot.worker.in_process",
    "labelpilot.engine.report_plot",
    "labelpilot.engine.exports.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labelpilot", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    extra = getattr(args, "extra", None)
    absent = extras.missing(extra)
    if extra and absent:
        print(extras.message(args.command, extra, absent), file=sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
