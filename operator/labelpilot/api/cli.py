"""`labelpilot crd [--out PATH ...] [--check]`: the LabelingJob CRD from the API models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "crd", help="print or write the LabelingJob CustomResourceDefinition"
    )
    parser.add_argument(
        "--out",
        type=Path,
        action="append",
        default=[],
        help="write the YAML here (repeatable); default: standard output",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a --out file differs"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from labelpilot.api import crd

    if not args.out:
        sys.stdout.write(crd.render())
        return 0
    if args.check:
        text = crd.render()
        stale = [p for p in args.out if not p.exists() or p.read_text() != text]
        for path in stale:
            print(
                f"crd: {path} differs from the generator; run `labelpilot crd --out {path}`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for path in args.out:
        print(f"crd: {path} {'written' if crd.write(path) else 'unchanged'}")
    return 0
