"""Keeps this process's read cache (`specialistly.core.read_cache`) in step with every other
process's: a change is announced on one Redis channel, and each process drops what it kept
of the changed document as the announcement arrives."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis

from specialistly.core.read_cache import ReadCache

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class CacheSync:
    """Runs while its process does: `start` it, `await stop()` at the end. It announces
    through `redis` and listens through `subscriptions` (see `Runtime.subscriptions`)."""

    def __init__(self, cache: ReadCache, redis: Redis, subscriptions: Redis, channel: str) -> None:
        self.cache = cache
        self.redis = redis
        self.subscriptions = subscriptions
        self.channel = channel
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.cache.add_publisher(self.announce)
        self._task = asyncio.create_task(self._follow(), name="read cache sync")

    async def stop(self) -> None:
        self.cache.remove_publisher(self.announce)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def announce(self, key: str) -> None:
        await self.redis.publish(self.channel, key)

    async def _follow(self) -> None:
        this = asyncio.current_task()
        while True:
            try:
                await self._listen()
            except Exception as exc:
                # redis-py may answer the cancellation of a read with a ConnectionError
                # (redis/redis-py#2717): a process that stops must not subscribe again.
                if this is not None and this.cancelling():
                    raise asyncio.CancelledError from exc
                log.warning("read cache: lost the change channel (%s); retrying", exc)
            await asyncio.sleep(RETRY_SECONDS)

    async def _listen(self) -> None:
        """Drop what each announcement names. The cache serves only while subscribed; a
        subscription made again (the client reconnected) may have missed announcements,
        so everything kept is dropped."""
        pubsub = self.subscriptions.pubsub()
        live = False
        try:
            await pubsub.subscribe(self.channel)
            async for message in pubsub.listen():
                if message["type"] == "message":
                    self.cache.drop(message["data"].decode())
                elif message["type"] == "subscribe":
                    if live:
                        self.cache.drop_all()
                    else:
                        self.cache.listening()
                        live = True
        finally:
            if live:
                self.cache.deaf()
            await pubsub.aclose()  # type: ignore[no-untyped-call]
