"""`python -m devcluster.agent`: started by `python -m devcluster up`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from devcluster.agent.agent import main_loop
from devcluster.layout import ClusterLayout


def main() -> None:
    parser = argparse.ArgumentParser(prog="labelpilot-node-agent")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--nodes", type=Path, default=None, help="node set YAML")
    parser.add_argument("--kubelet-version", default="v1.37.2")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s"
    )
    main_loop(ClusterLayout(args.state_dir, args.port), args.nodes, args.kubelet_version)


if __name__ == "__main__":
    main()
