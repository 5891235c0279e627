"""A small client of Label Studio's HTTP API: the calls LabelPilot makes, nothing more.

Authentication: a personal access token (a JWT; exchanged at /api/token/refresh for a
short-lived access token, renewed when it expires) or a legacy API token (`Token ...`).
The token goes only to the configured origin (urls.py): a redirect to the same origin is
followed, one anywhere else is refused, so neither the refresh token in a body nor the
Authorization header ever reaches another host.
Errors name the method, the path and the HTTP status, never the token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import requests

from labelpilot.workforce.labelstudio.errors import LabelStudioError, UnsafeUrl
from labelpilot.workforce.labelstudio.urls import checked, origin

__all__ = ["Client", "LabelStudioError", "UnsafeUrl"]

PAGE_SIZE = 500
TIMEOUT_SECONDS = 60.0
MAX_REDIRECTS = 5
REFRESH = "/api/token/refresh"


def _is_jwt(token: str) -> bool:
    return token.count(".") == 2


class Client:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = TIMEOUT_SECONDS,
        session: requests.Session | None = None,
    ) -> None:
        if not token:
            raise LabelStudioError("no Label Studio API token")
        self.url = checked(url).rstrip("/")
        self._token = token
        self._timeout = timeout
        self._session = session or requests.Session()
        self._access: str | None = None

    def _authorization(self, renew: bool = False) -> str:
        if not _is_jwt(self._token):
            return f"Token {self._token}"
        if self._access is None or renew:
            body = self._send("POST", REFRESH, json={"refresh": self._token}, headers={})
            access = body.get("access") if isinstance(body, dict) else None
            if not isinstance(access, str) or not access:
                raise LabelStudioError(
                    f"Label Studio POST {REFRESH}: the answer holds no access token; is the "
                    f"token a personal access token of the Label Studio at {self.url}?"
                )
            self._access = access
        return f"Bearer {self._access}"

    def _redacted(self, text: str) -> str:
        for secret in (self._token, self._access):
            if secret:
                text = text.replace(secret, "<token>")
        return text

    def _request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        params: dict[str, Any] | None,
        json: Any,
    ) -> requests.Response:
        """Sends the request, following redirects only within the configured origin."""
        url = self.url + path
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise LabelStudioError(
                    self._redacted(f"Label Studio {method} {path}: {type(exc).__name__}: {exc}")
                ) from exc
            if not response.is_redirect:
                return response
            target = urljoin(response.url, response.headers["location"])
            if origin(target) != origin(self.url):
                raise LabelStudioError(
                    f"Label Studio {method} {path}: redirected to {origin(target)}; the API "
                    f"token is only sent to {origin(self.url)}, the configured url. Set the "
                    "url to the address Label Studio answers at",
                    response.status_code,
                )
            url, params = target, None  # the Location carries its own query
        raise LabelStudioError(f"Label Studio {method} {path}: more than {MAX_REDIRECTS} redirects")

    def _send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        response = self._request(method, path, headers=headers, params=params, json=json)
        if response.status_code >= 300:
            raise LabelStudioError(
                self._redacted(
                    f"Label Studio {method} {path}: HTTP {response.status_code}: "
                    f"{response.text[:300]}"
                ),
                response.status_code,
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            kind = response.headers.get("content-type", "no content type")
            raise LabelStudioError(
                f"Label Studio {method} {path}: HTTP "
                f"{response.status_code} answered {kind}, not JSON; is "
                f"{self.url} Label Studio's API?",
                response.status_code,
            ) from exc

    def call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        headers = {"Authorization": self._authorization()}
        try:
            return self._send(method, path, headers=headers, params=params, json=json)
        except LabelStudioError as exc:
            if exc.status != 401 or not _is_jwt(self._token):
                raise
            headers = {"Authorization": self._authorization(renew=True)}
            return self._send(method, path, headers=headers, params=params, json=json)

    # ---------------------------------------------------------------- projects

    def projects(self, title: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"page_size": PAGE_SIZE}
        if title is not None:
            params["title"] = title
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.call("GET", "/api/projects/", params={**params, "page": page})
            results = body["results"] if isinstance(body, dict) else body
            found.extend(results)
            if not isinstance(body, dict) or not body.get("next"):
                return found
            page += 1

    def project(self, project_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"/api/projects/{project_id}/"))

    def create_project(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", "/api/projects/", json=body))

    def update_project(self, project_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("PATCH", f"/api/projects/{project_id}/", json=body))

    # ---------------------------------------------------------------- tasks

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """Creates `tasks`; returns their ids in order."""
        body = self.call(
            "POST",
            f"/api/projects/{project_id}/import",
            params={"return_task_ids": "true"},
            json=tasks,
        )
        ids = [int(i) for i in body.get("task_ids") or []]
        if len(ids) != len(tasks):
            raise LabelStudioError(
                f"Label Studio import into project {project_id} returned "
                f"{len(ids)} task ids for {len(tasks)} tasks"
            )
        return ids

    def delete_task(self, task_id: int) -> None:
        """Deletes a task; one already gone is not an error."""
        try:
            self.call("DELETE", f"/api/tasks/{task_id}/")
        except LabelStudioError as exc:
            if exc.status != 404:
                raise

    def tasks(self, project_id: int) -> Iterator[dict[str, Any]]:
        """Every task of the project with its annotations (and meta)."""
        page = 1
        while True:
            try:
                body = self.call(
                    "GET",
                    "/api/tasks",
                    params={
                        "project": project_id,
                        "page": page,
                        "page_size": PAGE_SIZE,
                        "fields": "all",
                    },
                )
            except LabelStudioError as exc:
                if exc.status == 404 and page > 1:  # past the last page
                    return
                raise
            tasks = body.get("tasks") or []
            yield from tasks
            if len(tasks) < PAGE_SIZE:
                return
            page += 1
