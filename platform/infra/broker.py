"""The Dramatiq broker on Redis, and enqueueing jobs from async code."""

from __future__ import annotations

import asyncio
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO

from specialistly.infra.metrics.redis_client import timed
from specialistly.settings import Settings

QUEUE = "default"


def create_broker(settings: Settings) -> RedisBroker:
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=settings.redis_url, namespace=settings.broker_namespace
    )
    broker.add_middleware(AsyncIO())
    broker.declare_queue(QUEUE)
    return broker


def message(actor_name: str, *args: Any) -> dramatiq.Message[Any]:
    return dramatiq.Message(
        queue_name=QUEUE, actor_name=actor_name, args=args, kwargs={}, options={}
    )


class Jobs:
    """Enqueues actor messages by name; the API needs no actor objects to do so."""

    def __init__(self, settings: Settings) -> None:
        self.broker = create_broker(settings)

    async def send(self, actor_name: str, *args: Any, delay_ms: int | None = None) -> None:
        # The Redis client under Dramatiq is synchronous: keep it off the event loop.
        with timed("ENQUEUE"):
            await asyncio.to_thread(self.broker.enqueue, message(actor_name, *args), delay=delay_ms)

    def close(self) -> None:
        self.broker.close()
