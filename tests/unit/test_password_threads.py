"""Password hashing runs in threads of its own, not in asyncio's shared default executor."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from specialistly.core.passwords import hash_password, verify_password


def test_hashing_does_not_wait_for_the_default_executor() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        release = threading.Event()
        # The default executor's one thread is busy until the hashing below is done...
        busy = loop.run_in_executor(None, release.wait, 60)
        hashed = await hash_password("correct horse battery")
        assert await verify_password(hashed, "correct horse battery")
        # ...so hashing there would have waited for it to give up.
        assert not busy.done()
        release.set()
        assert await busy

    asyncio.run(scenario())
