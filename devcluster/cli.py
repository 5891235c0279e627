"""`python -m devcluster up|down|status|kubeconfig|logs`, from the repository root."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devcluster",
        description="a local Kubernetes control plane with simulated GPU/CPU nodes",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the cluster keeps its state "
        "(default $LABELPILOT_DEV_CLUSTER_DIR or ~/.local/state/...)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="kube-apiserver port; the next four are used too (default 16443)",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start the cluster (idempotent)")
    up.add_argument("--build", action="store_true", help="build missing binaries first")
    actions.add_parser("down", help="stop every process the cluster started")
    actions.add_parser("status", help="show each component and the nodes")
    actions.add_parser("kubeconfig", help="print the admin kubeconfig's path")
    logs = actions.add_parser("logs", help="print a pod's container log")
    logs.add_argument("pod")
    logs.add_argument("-n", "--namespace", default="default")
    logs.add_argument("-c", "--container", default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    from devcluster import cluster
    from devcluster.control_plane import ComponentFailed
    from devcluster.layout import ClusterLayout
    from devcluster.logs import pod_log

    layout = ClusterLayout.from_env(args.state_dir, args.port)
    if args.action == "up":
        try:
            seconds = cluster.up(layout, build=args.build)
        except ComponentFailed as error:
            print(f"dev-cluster: {error}", file=sys.stderr)
            return 1
        print(f"dev cluster ready in {seconds:.1f}s at {layout.server}")
        print(f"export KUBECONFIG={layout.admin_kubeconfig}")
        return 0
    if args.action == "down":
        stopped = cluster.down(layout)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    if args.action == "status":
        rows = cluster.status(layout)
        for row in rows:
            state = "healthy" if row.healthy else ("running" if row.pid else "stopped")
            print(f"{row.name:<24} {state:<8} pid={row.pid or '-':<8} log={row.log}")
        return 0 if all(r.healthy for r in rows) else 1
    if args.action == "kubeconfig":
        print(layout.admin_kubeconfig)
        return 0
    try:
        sys.stdout.write(pod_log(layout, args.namespace, args.pod, args.container))
    except FileNotFoundError as error:
        print(f"dev-cluster logs: {error}", file=sys.stderr)
        return 1
    return 0
