"""Redis calls by command: an asyncio Redis client that times its commands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from specialistly.infra.metrics.registry import OTHER, REDIS_COMMANDS

_COMMAND = re.compile(r"^[A-Z]{1,20}$")


@contextmanager
def timed(command: str) -> Iterator[None]:
    """Records the block's duration as one call of `command` (a Redis command's name)."""
    started = perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        name = command.upper()
        label = name if _COMMAND.match(name) else OTHER
        REDIS_COMMANDS.labels(label, outcome).observe(perf_counter() - started)


class TimedRedis(Redis):
    """Every command it runs, and every pipeline as one PIPELINE call, is measured."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        with timed(name.split(" ", 1)[0]):
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        return TimedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


class TimedPipeline(Pipeline):
    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        with timed("PIPELINE"):
            return await super().execute(raise_on_error)
