"""Waiting for something that another process does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from specialistly.core.events import Event

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 90.0) -> T:
    """The first truthy result of `check`, polled every 0.1 s; fails after `within` seconds
    (generous: the worker shares a small machine with the whole suite)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await check()
        if value:
            return value
        assert loop.time() < deadline, f"{check.__name__} did not happen in {within} s"
        await asyncio.sleep(0.1)


async def dispatched(event_id: object) -> Event:
    """The event once every plugin has handled it (the worker delivers it)."""

    async def check() -> Event | None:
        stored = await Event.get(event_id)
        return stored if stored and stored.dispatched_at else None

    return await eventually(check)
