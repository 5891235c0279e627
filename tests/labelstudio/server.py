"""A real Label Studio server on loopback (its own SQLite), for the session's fixture
`label_studio` (tests/conftest.py).

It runs from the virtual environment `make setup` makes (hack/install-label-studio.sh),
with a known legacy API token for the admin and local-files serving under the session's
temporary folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("LABELPILOT_LABEL_STUDIO_VENV", ROOT / ".venv-labelstudio"))
TOKEN = "labelpilot0test0token0000000000000000000"
ADMIN = "admin@labelpilot.test"
PASSWORD = "labelpilot-admin-1"
START_SECONDS = 240


@dataclass(frozen=True)
class LabelStudio:
    url: str
    token: str
    files_root: Path  # LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT
    log: Path

    def call(self, method: str, path: str, **kwargs: object) -> object:
        response = requests.request(
            method,
            self.url + path,
            timeout=60,
            headers={"Authorization": f"Token {self.token}"},
            **kwargs,
        )  # type: ignore[arg-type]
        response.raise_for_status()
        return response.json() if response.content else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    binary = VENV / "bin" / "label-studio"
    assert binary.exists(), f"{binary} is missing: run `make setup` (hack/install-label-studio.sh)"
    data = tmp_path_factory.mktemp("label-studio")
    files = tmp_path_factory.mktemp("label-studio-files")
    port = _free_port()
    log = data / "server.log"
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(files),
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
    }
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [
                str(binary),
                "start",
                "--no-browser",
                "--port",
                str(port),
                "--internal-host",
                "127.0.0.1",
                "--data-dir",
                str(data),
                "--username",
                ADMIN,
                "--password",
                PASSWORD,
                "--user-token",
                TOKEN,
                "--enable-legacy-api-token",
            ],
            cwd=data,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    try:
        while True:
            assert server.poll() is None, f"label-studio exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"label-studio did not start: {log}"
            try:
                if requests.get(url + "/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(1)
        yield LabelStudio(url, TOKEN, files, log)
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()
