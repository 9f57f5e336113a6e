"""Worker jobs by actor and outcome: a Dramatiq middleware."""

from __future__ import annotations

from time import perf_counter
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from specialistly.infra.metrics.registry import JOBS


class JobMetrics(Middleware):
    """Times each message from the moment a worker thread takes it until its actor ends."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._started[message.message_id] = perf_counter()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        started = self._started.pop(message.message_id, None)
        if started is not None:
            outcome = "ok" if exception is None else "failed"
            JOBS.labels(message.actor_name, outcome).observe(perf_counter() - started)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._started.pop(message.message_id, None)
