"""A daemon thread that calls a function every few seconds until the agent stops."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("labelpilot.node-agent")


class Periodic(threading.Thread):
    def __init__(
        self, name: str, seconds: float, work: Callable[[], None], stop: threading.Event
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.seconds, self.work, self.stop = seconds, work, stop

    def run(self) -> None:
        while not self.stop.wait(self.seconds):
            try:
                self.work()
            except Exception:
                log.exception("%s failed", self.name)
