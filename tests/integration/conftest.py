"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from specialistly.runtime import Runtime
from tests.commands import Commands, recording


@pytest_asyncio.fixture(loop_scope="session")
async def commands(runtime: Runtime) -> AsyncIterator[Commands]:
    """Beanie bound, for one test, to a client that records its commands."""
    async with recording(runtime) as listener:
        yield listener
