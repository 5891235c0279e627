"""The Label Studio client's trust rules against small HTTP servers on loopback: the token
goes only to the configured origin (redirects elsewhere are refused, not followed), a
refresh answer without an access token or an answer that is not JSON is a clear error, and
plain http is refused where the token would cross a network."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from labelpilot.api.run_config import TaskType, WorkforceConfig
from labelpilot.api.steps import StepFailed
from labelpilot.workforce.labelstudio.client import Client, LabelStudioError, UnsafeUrl
from labelpilot.workforce.labelstudio.provider import LabelStudioWorkforce

JWT = "header.payload.signature"  # a personal access token's shape
LEGACY = "legacy0token0000000000000000000000000000"

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    url: str
    host: str
    port: int
    seen: list[Seen] = field(default_factory=list)


def _handler(reply: Callable[[Seen], Reply], seen: list[Seen]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = Seen(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
            )
            seen.append(request)
            status, headers, body = reply(request)
            self.send_response(status)
            for name, value in {**headers, "content-length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture()
def serve() -> Iterator[Callable[[str, Callable[[Seen], Reply]], Server]]:
    servers: list[ThreadingHTTPServer] = []

    def start(host: str, reply: Callable[[Seen], Reply]) -> Server:
        seen: list[Seen] = []
        httpd = ThreadingHTTPServer((host, 0), _handler(reply, seen))
        servers.append(httpd)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        port = int(httpd.server_address[1])
        return Server(f"http://{host}:{port}", host, port, seen)

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _json(body: Any, status: int = 200) -> Reply:
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


def _redirect(to: str, status: int) -> Reply:
    return status, {"location": to}, b""


def test_redirects_stay_on_the_configured_origin(serve):
    thief = serve("127.0.0.2", lambda r: _json({"access": "stolen", "results": []}))

    def label_studio(request: Seen) -> Reply:
        if request.path.startswith("/api/token/refresh"):
            return _redirect(thief.url + "/api/token/refresh", 307)  # re-posts the body
        if request.path.startswith("/api/projects/?"):
            return _redirect(thief.url + request.path, 302)
        if request.path == "/api/projects/1/":  # same origin: followed
            return _redirect("/api/projects/1/moved/", 301)
        if request.path == "/api/projects/1/moved/":
            return _json({"id": 1, "seen": request.headers.get("Authorization")})
        return _json({}, 404)

    ls = serve("127.0.0.1", label_studio)
    legacy = Client(ls.url, LEGACY)
    assert legacy.project(1) == {"id": 1, "seen": f"Token {LEGACY}"}
    with pytest.raises(LabelStudioError, match=r"redirected to http://127\.0\.0\.2") as error:
        legacy.projects()
    assert "token is only sent to http://127.0.0.1" in str(error.value)
    with pytest.raises(LabelStudioError, match=r"redirected to http://127\.0\.0\.2"):
        Client(ls.url, JWT).projects()
    assert thief.seen == []  # neither the refresh token nor the header went there


def test_a_refresh_without_an_access_token_is_a_clear_error(serve):
    ls = serve("127.0.0.1", lambda r: _json({"detail": "refreshed, somehow"}))
    with pytest.raises(LabelStudioError, match="holds no access token") as error:
        Client(ls.url, JWT).projects()
    assert JWT not in str(error.value)
    assert [r.path for r in ls.seen] == ["/api/token/refresh"]


def test_answers_that_are_not_json_or_echo_the_token_are_clear_errors(serve):
    page = (200, {"content-type": "text/html"}, b"<html>a login page</html>")
    ls = serve("127.0.0.1", lambda r: page)
    with pytest.raises(LabelStudioError, match="answered text/html, not JSON"):
        Client(ls.url, LEGACY).projects()
    echo = serve("127.0.0.1", lambda r: (400, {}, b"bad refresh: " + r.body))
    with pytest.raises(LabelStudioError, match="HTTP 400") as error:
        Client(echo.url, JWT).projects()
    assert JWT not in str(error.value) and "<token>" in str(error.value)


def test_plain_http_only_where_the_token_stays_local():
    allowed = [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://[::1]:8080",
        "http://label-studio:8080",
        "http://label-studio.tools.svc:8080",
        "http://label-studio.tools.svc.cluster.local",
        "https://labels.example.com",
        "https://10.0.0.7:8443",
    ]
    for url in allowed:
        assert Client(url, LEGACY).url == url.rstrip("/")
    refused = {
        "http://labels.example.com": "clear text",
        "http://10.0.0.7:8080": "clear text",
        "http://[fd00::7]:8080": "clear text",
        "http://167772167": "clear text",
        "http://ls.svc.example.com": "clear text",
        "http://user:pw@localhost:8080": "user or password",
        "ftp://localhost": "must be http",
    }
    for url, why in refused.items():
        with pytest.raises(UnsafeUrl, match=why) as error:
            Client(url, LEGACY)
        assert "workforce.labelStudio.url" in str(error.value)
        assert "pw" not in str(error.value)


def test_an_unsafe_url_fails_the_job(monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_TOKEN", LEGACY)
    workforce = WorkforceConfig.model_validate(
        {"label_studio": {"url": "http://labels.example.com:8080", "project_title": "p"}}
    )
    provider = LabelStudioWorkforce(
        workforce, TaskType.IMAGE_CLASSIFICATION, ["a", "b"], "job", None
    )
    with pytest.raises(StepFailed) as failed:
        provider.client  # noqa: B018 - the client is made on first use
    assert failed.value.reason == "UnsafeLabelStudioUrl"
    assert "http://labels.example.com" in failed.value.message


def test_an_answer_is_dated_by_its_last_annotation():
    from labelpilot.workforce.base import TaskItem
    from labelpilot.workforce.labelstudio.results import to_result

    workforce = WorkforceConfig.model_validate(
        {"label_studio": {"url": "http://localhost:8080", "project_title": "p"}}
    )
    labels = ["a", "b"]
    provider = LabelStudioWorkforce(workforce, TaskType.IMAGE_CLASSIFICATION, labels, "job", None)
    result = to_result(TaskType.IMAGE_CLASSIFICATION, 1, labels)
    task = {
        "annotations": [
            {"id": 1, "result": result, "created_at": "2024-03-05T10:00:00.5Z"},
            {
                "id": 2,
                "result": result,
                "created_at": "2024-03-05T10:00:01Z",
                "updated_at": "2024-03-05T12:30:00+01:00",
            },
        ]
    }
    handle = {"batchId": "b"}
    answer = provider._answer(TaskItem(0, "x"), task, None, handle)
    assert answer.labels == [1, 1] and answer.answered_at == "2024-03-05T11:30:00.000000"
    undated = {"annotations": [{"id": 3, "result": result}]}
    assert provider._answer(TaskItem(0, "x"), undated, None, handle).answered_at is None


def test_multilabel_answers_are_class_sets_and_nothing_chosen_counts():
    from labelpilot.api.ui_config import Binding
    from labelpilot.workforce.base import TaskItem
    from labelpilot.workforce.labelstudio.results import to_result

    task_type = TaskType.TEXT_CLASSIFICATION_MULTILABEL
    workforce = WorkforceConfig.model_validate(
        {"label_studio": {"url": "http://localhost:8080", "project_title": "p"}}
    )
    labels = ["a", "b", "c"]
    provider = LabelStudioWorkforce(workforce, task_type, labels, "job", None)
    item = TaskItem(0, "x", prediction=[0, 2], prediction_score=0.8)
    task = {
        "annotations": [
            {"id": 1, "result": to_result(task_type, [0, 2], labels)},
            {"id": 2, "result": []},  # submitted with no class chosen
            {"id": 3, "result": to_result(task_type, [1], labels), "was_cancelled": True},
        ]
    }
    answer = provider._answer(item, task, None, {"batchId": "b"})
    assert answer.failure is None and answer.labels == [[0, 2], []] and answer.edited == 1
    shown = provider._task("b", item, {"text": "x"}, None, Binding("label", "text"))
    (prediction,) = shown["predictions"]
    assert prediction["result"][0]["value"] == {"choices": ["a", "c"]}
