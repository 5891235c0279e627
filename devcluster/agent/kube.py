"""Thin access to the API server for the agent, on plain dicts."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

Obj = dict[str, Any]


class Kube:
    def __init__(self, kubeconfig: str) -> None:
        self.api_client = config.new_client_from_config(config_file=kubeconfig)
        self.core = client.CoreV1Api(self.api_client)
        self.coordination = client.CoordinationV1Api(self.api_client)
        self.storage = client.StorageV1Api(self.api_client)

    @staticmethod
    def _json(response: Any) -> Obj:
        return json.loads(response.data)

    def read(self, method: Any, *args: Any) -> Obj | None:
        """Calls a `read_*` method and returns the object as a dict, or None if absent."""
        try:
            return self._json(method(*args, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def list(self, method: Any, *args: Any, **kwargs: Any) -> Obj:
        return self._json(method(*args, _preload_content=False, **kwargs))


def not_found(error: ApiException) -> bool:
    return error.status == 404


def conflict(error: ApiException) -> bool:
    return error.status in (409, 422)
