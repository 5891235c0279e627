"""Runs one pod's containers as local processes and reports their status."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kubernetes.client.rest import ApiException

from devcluster.agent.cgroups import PodCgroups, pod_resources
from devcluster.agent.environment import EnvError, EnvResolver, base_environment, expand
from devcluster.agent.kube import Kube, Obj, conflict, not_found
from devcluster.agent.status import ContainerState, now, pod_status
from devcluster.agent.volumes import VolumeBuilder, VolumeError, container_mounts

log = logging.getLogger("labelpilot.node-agent")
POLL_SECONDS = 0.05
RESTART_BACKOFF_MAX = 10.0
LOG_FALLBACK_BYTES = 2048
DEFAULT_TERMINATION_PATH = "/dev/termination-log"
# What every container runs on: the Python environment and this project's source (an
# editable install; podexec itself runs from the checkout). A volume mounted over a parent
# folder (an emptyDir on /tmp, with the checkout under /tmp) must not hide them.
RUNTIME_PATHS = sorted({sys.prefix, str(Path(__file__).resolve().parents[2])})


def pod_key(pod: Obj) -> str:
    meta = pod["metadata"]
    return f"{meta['namespace']}_{meta['name']}_{meta['uid']}"


class PodRunner(threading.Thread):
    """One pod's life on a simulated node: volumes, processes, restarts, deletion."""

    def __init__(
        self,
        kube: Kube,
        pod: Obj,
        pods_dir: Path,
        apiserver_port: int,
        cgroups: PodCgroups | None = None,
    ) -> None:
        super().__init__(name=f"pod-{pod['metadata']['name']}", daemon=True)
        self.kube = kube
        self.cgroups = cgroups
        self.cgroup_procs: list[Path] = []
        self.pod = pod
        self.meta = pod["metadata"]
        self.dir = pods_dir / pod_key(pod)
        self.apiserver_port = apiserver_port
        self.stop_requested = threading.Event()
        self.node_shutdown = False
        self.grace_seconds = 30.0
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        spec = pod["spec"]
        self.restart_policy = spec.get("restartPolicy", "Always")
        self.init = [
            ContainerState(c["name"], c.get("image", ""), init=True)
            for c in spec.get("initContainers") or []
        ]
        self.main = [ContainerState(c["name"], c.get("image", "")) for c in spec["containers"]]
        self.start_time = (pod.get("status") or {}).get("startTime") or now()
        self.phase = "Pending"
        self.pod_reason: str | None = None
        self.pod_message: str | None = None
        self._restart_at: dict[str, float] = {}

    def request_stop(self, grace_seconds: float) -> None:
        """The pod is being deleted: stop its containers, then remove it from the API."""
        self.grace_seconds = grace_seconds
        self.stop_requested.set()

    def shutdown(self, grace_seconds: float) -> None:
        """The node agent is stopping: stop the containers, leave the pod object alone."""
        self.node_shutdown = True
        self.request_stop(grace_seconds)

    # -- life cycle -------------------------------------------------------------------

    def run(self) -> None:
        if self.cgroups is not None:
            self.cgroup_procs = self.cgroups.pod_procs(self.meta["uid"], pod_resources(self.pod))
        try:
            self._run()
        except Exception:
            log.exception("pod %s/%s: runner crashed", self.meta["namespace"], self.meta["name"])
            self._kill_all(0)
        finally:
            if self.cgroups is not None:
                self.cgroups.remove_pod(self.meta["uid"])

    def _run(self) -> None:
        log.info("pod %s/%s: starting", self.meta["namespace"], self.meta["name"])
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "logs").mkdir(exist_ok=True)
        try:
            volumes = VolumeBuilder(self.kube, self.pod, self.dir).build()
            resolver = EnvResolver(self.kube, self.pod)
            base = base_environment(self.pod, self.apiserver_port)
            specs = {
                c["name"]: self._exec_spec(c, volumes, resolver, base) for c in self._containers()
            }
        except (VolumeError, EnvError, ApiException) as error:
            self._fail_to_start(str(error))
        else:
            self._report()
            self._run_init(specs)
            if self.phase == "Pending" and not self.stop_requested.is_set():
                self.phase = "Running"
                for state in self.main:
                    self._start(state, specs[state.name])
                self._report()
                self._supervise(specs)
        if self.stop_requested.is_set():
            log.info(
                "pod %s/%s: stopping (grace %.0fs)",
                self.meta["namespace"],
                self.meta["name"],
                self.grace_seconds,
            )
            self._kill_all(self.grace_seconds)
            if not self.node_shutdown:
                finalize_deletion(self.kube, self.pod, self.dir)

    def _containers(self) -> list[Obj]:
        spec = self.pod["spec"]
        return list(spec.get("initContainers") or []) + list(spec["containers"])

    def _container(self, name: str) -> Obj:
        return next(c for c in self._containers() if c["name"] == name)

    def _exec_spec(
        self, container: Obj, volumes: dict[str, str], resolver: EnvResolver, base: dict[str, str]
    ) -> Obj:
        env = resolver.container_env(container, base)
        argv = [expand(a, env) for a in (container.get("command") or [])]
        argv += [expand(a, env) for a in (container.get("args") or [])]
        if not argv:
            raise VolumeError(
                f"container {container['name']}: no command; the simulated "
                "runtime cannot read an image's entrypoint, set `command`"
            )
        mounts = container_mounts(container, volumes)
        termination = self.dir / "termination" / container["name"]
        termination.parent.mkdir(exist_ok=True)
        termination.write_bytes(b"")
        target = container.get("terminationMessagePath") or DEFAULT_TERMINATION_PATH
        mounts_spec = [m.as_spec() for m in mounts]
        mounts_spec.append({"source": str(termination), "target": target, "readOnly": False})
        return {
            "argv": argv,
            "env": env,
            "mounts": mounts_spec,
            "preserve": RUNTIME_PATHS,
            "workingDir": container.get("workingDir"),
            "terminationFile": str(termination),
            "cgroups": [str(p) for p in self.cgroup_procs],
        }

    def _fail_to_start(self, message: str) -> None:
        log.warning("pod %s/%s: %s", self.meta["namespace"], self.meta["name"], message)
        for state in self.init + self.main:
            state.waiting_reason = "CreateContainerConfigError"
        if self.restart_policy == "Never":
            for state in self.init + self.main:
                state.exit_code, state.reason, state.message = 128, "StartError", message
                state.started_at = state.finished_at = now()
                state.waiting_reason = None
            self.phase, self.pod_reason = "Failed", "CreateContainerConfigError"
        self.pod_message = message
        self._report()
        if self.restart_policy != "Never":
            self.stop_requested.wait()

    def _run_init(self, specs: dict[str, Obj]) -> None:
        for state in self.init:
            while not self.stop_requested.is_set():
                self._start(state, specs[state.name])
                self._report()
                code = self._wait(state)
                if code is None:
                    return
                self._report()
                if code == 0:
                    break
                if self.restart_policy == "Never":
                    self.phase = "Failed"
                    self._report()
                    return
                self._backoff(state)

    def _wait(self, state: ContainerState) -> int | None:
        process = self.processes[state.name]
        while not self.stop_requested.is_set():
            if self._deadline_exceeded():
                return None
            code = process.poll()
            if code is not None:
                self._record_exit(state, code)
                return code
            time.sleep(POLL_SECONDS)
        return None

    def _supervise(self, specs: dict[str, Obj]) -> None:
        while not self.stop_requested.is_set():
            changed = False
            for state in self.main:
                if state.running:
                    code = self.processes[state.name].poll()
                    if code is not None:
                        self._record_exit(state, code)
                        changed = True
                elif self._restart_due(state):
                    self._restart_at.pop(state.name)
                    state.last_termination = state.terminated_state()
                    state.restart_count += 1
                    self._start(state, specs[state.name])
                    changed = True
            if self._deadline_exceeded():
                self._kill_all(0)
                self.phase, self.pod_reason = "Failed", "DeadlineExceeded"
                self.pod_message = "Pod was active on the node longer than the specified deadline"
                self._report()
                break
            if all(s.terminated and not self._should_restart(s) for s in self.main):
                failed = any(s.exit_code != 0 for s in self.main)
                self.phase = "Failed" if failed else "Succeeded"
                self._report()
                break
            if changed:
                self._report()
            time.sleep(POLL_SECONDS)

    def _restart_due(self, state: ContainerState) -> bool:
        if not (state.terminated and self._should_restart(state)):
            return False
        due = self._restart_at.setdefault(
            state.name, time.monotonic() + self._backoff_seconds(state)
        )
        return time.monotonic() >= due

    def _should_restart(self, state: ContainerState) -> bool:
        if self.restart_policy == "Always":
            return True
        return self.restart_policy == "OnFailure" and state.exit_code != 0

    @staticmethod
    def _backoff_seconds(state: ContainerState) -> float:
        return min(RESTART_BACKOFF_MAX, 0.5 * 2**state.restart_count)

    def _backoff(self, state: ContainerState) -> None:
        self.stop_requested.wait(self._backoff_seconds(state))
        state.last_termination = state.terminated_state()
        state.restart_count += 1

    def _deadline_exceeded(self) -> bool:
        deadline = self.pod["spec"].get("activeDeadlineSeconds")
        if deadline is None:
            return False
        started = time.mktime(time.strptime(self.start_time, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        return time.time() - started > deadline

    # -- processes ------------------------------------------------------------------

    def _start(self, state: ContainerState, spec: Obj) -> None:
        Path(spec["terminationFile"]).write_bytes(b"")
        spec_file = self.dir / f"{state.name}.exec.json"
        spec_file.write_text(json.dumps(spec))
        spec_file.chmod(0o600)
        log_file = (self.dir / "logs" / f"{state.name}.log").open("ab")
        process = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                sys.executable,
                "-m",
                "devcluster.agent.podexec",
                str(spec_file),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        log_file.close()
        (self.dir / f"{state.name}.pid").write_text(str(process.pid))
        self.processes[state.name] = process
        state.pid, state.started_at = process.pid, now()
        state.exit_code = state.reason = state.message = state.finished_at = None
        state.waiting_reason = None

    def _record_exit(self, state: ContainerState, code: int) -> None:
        if code < 0:
            code = 128 - code
        state.exit_code, state.finished_at = code, now()
        spec = json.loads((self.dir / f"{state.name}.exec.json").read_text())
        message = Path(spec["terminationFile"]).read_text(errors="replace").strip()
        container = self._container(state.name)
        policy = container.get("terminationMessagePolicy", "File")
        if not message and code != 0 and policy == "FallbackToLogsOnError":
            log_path = self.dir / "logs" / f"{state.name}.log"
            message = log_path.read_bytes()[-LOG_FALLBACK_BYTES:].decode(errors="replace")
        state.message = message or None
        state.reason = "Completed" if code == 0 else "Error"
        if code == 137 and self.cgroups is not None and self.cgroups.oom_killed(self.meta["uid"]):
            state.reason = "OOMKilled"
        (self.dir / f"{state.name}.pid").unlink(missing_ok=True)

    def _kill_all(self, grace_seconds: float) -> None:
        live = {n: p for n, p in self.processes.items() if p.poll() is None}
        for process in live.values():
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline and any(p.poll() is None for p in live.values()):
            time.sleep(POLL_SECONDS)
        for process in live.values():
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        for name in live:
            (self.dir / f"{name}.pid").unlink(missing_ok=True)

    # -- API ------------------------------------------------------------------------

    def _report(self) -> None:
        body = {
            "metadata": {"uid": self.meta["uid"]},
            "status": pod_status(
                self.phase,
                self.start_time,
                self.init,
                self.main,
                reason=self.pod_reason,
                message=self.pod_message,
            ),
        }
        try:
            self.kube.core.patch_namespaced_pod_status(
                self.meta["name"], self.meta["namespace"], body
            )
        except ApiException as error:
            if not (not_found(error) or conflict(error)):
                raise


def finalize_deletion(kube: Kube, pod: Obj, pod_dir: Path) -> None:
    """What kubelet does once a deleted pod's containers are gone."""
    meta = pod["metadata"]
    try:
        kube.core.delete_namespaced_pod(
            meta["name"],
            meta["namespace"],
            body={"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}},
        )
    except ApiException as error:
        if not (not_found(error) or conflict(error)):
            raise
    shutil.rmtree(pod_dir / "volumes", ignore_errors=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
