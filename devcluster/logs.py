"""Reading the container logs that the node agent writes for each pod."""

from __future__ import annotations

from devcluster.layout import ClusterLayout


def pod_log(layout: ClusterLayout, namespace: str, pod: str, container: str | None) -> str:
    folders = sorted(layout.pods.glob(f"{namespace}_{pod}_*"), key=lambda p: p.stat().st_mtime)
    if not folders:
        raise FileNotFoundError(f"no pod {namespace}/{pod} has run on this dev cluster")
    logs = sorted((folders[-1] / "logs").glob("*.log"))
    if container is not None:
        logs = [p for p in logs if p.stem == container]
    if not logs:
        raise FileNotFoundError(f"pod {namespace}/{pod}: no log for container {container}")
    if len(logs) > 1:
        return "".join(f"==> {p.stem} <==\n{p.read_text(errors='replace')}" for p in logs)
    return logs[0].read_text(errors="replace")
