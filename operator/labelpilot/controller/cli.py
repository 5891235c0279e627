"""`labelpilot operator`: run the kopf operator against the current kubeconfig or in-cluster."""

from __future__ import annotations

import argparse
import logging
import socket
import sys

from labelpilot.controller.profiles import ProfileError
from labelpilot.controller.settings import (
    DEFAULT_METRICS_PORT,
    DEFAULT_RELIST_SECONDS,
    DEFAULT_RESYNC_SECONDS,
    DEFAULT_WORKERS,
    OperatorSettings,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("operator", help="run the LabelingJob operator")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n", "--namespace", action="append", default=[], help="watch this namespace (repeatable)"
    )
    scope.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="watch every namespace (the default without --namespace)",
    )
    parser.add_argument("--image", help="worker image for step Jobs")
    parser.add_argument("--profiles", help="instance profiles YAML (Helm's ConfigMap)")
    parser.add_argument(
        "--policy",
        help="what LabelingJobs may use (Helm's ConfigMap; "
        "docs/security.md); default: the safe defaults",
    )
    parser.add_argument(
        "--metrics-port", type=int, default=DEFAULT_METRICS_PORT, help="0 turns metrics off"
    )
    parser.add_argument(
        "--liveness",
        default="http://0.0.0.0:8081/healthz",
        help="kopf liveness endpoint ('' turns it off)",
    )
    parser.add_argument("--resync-seconds", type=float, default=DEFAULT_RESYNC_SECONDS)
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help="threads that reconcile LabelingJobs"
    )
    parser.add_argument(
        "--relist-seconds",
        type=float,
        default=DEFAULT_RELIST_SECONDS,
        help="how stale the cache of step Jobs may get before a relist",
    )
    parser.set_defaults(func=run)


def settings_of(args: argparse.Namespace) -> OperatorSettings:
    """The flags' settings; raises ProfileError (PolicyError) for a bad file."""
    # Exact namespace names need no namespace scanning (nor RBAC on namespaces); glob
    # patterns do.
    exact = bool(args.namespace) and not any(set(n) & set("*?[!") for n in args.namespace)
    return OperatorSettings.build(
        image=args.image,
        profiles_file=args.profiles,
        policy_file=args.policy,
        metrics_port=args.metrics_port,
        resync_seconds=args.resync_seconds,
        scanning=not exact,
        workers=args.workers,
        relist_seconds=args.relist_seconds,
    )


def run(args: argparse.Namespace) -> int:
    try:  # a bad file stops the operator at once, with the file's fault, not a traceback
        settings = settings_of(args)
    except ProfileError as error:
        print(f"labelpilot operator: {error}", file=sys.stderr)
        return 2
    # The operator's own lines (Jobs created, decisions timed) at INFO; kopf's stay at
    # WARNING, as its per-handler INFO lines would cost CPU with many jobs.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    own = logging.getLogger("labelpilot")
    own.addHandler(handler)
    own.setLevel(logging.INFO)
    own.propagate = False
    import kopf

    import labelpilot.controller  # noqa: F401  (registers the handlers)
    from labelpilot.controller.handlers import memo_of

    kopf.run(
        # kopf would name itself after the user's passwd entry, which an image run under an
        # arbitrary uid (uid 65532, OpenShift's random uids) does not have.
        identity=f"labelpilot@{socket.gethostname()}",  # type: ignore[arg-type]  # kopf's NewType
        standalone=True,
        namespaces=args.namespace,
        clusterwide=not args.namespace,
        liveness_endpoint=args.liveness or None,
        memo=memo_of(settings),
    )
    return 0
