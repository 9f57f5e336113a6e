"""Waiting for something that another process does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 30.0) -> T:
    """The first truthy result of `check`, polled every 0.1 s; fails after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await check()
        if value:
            return value
        assert loop.time() < deadline, f"{check.__name__} did not happen in {within} s"
        await asyncio.sleep(0.1)
