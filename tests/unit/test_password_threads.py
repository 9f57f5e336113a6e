"""Password hashing runs in threads of its own, not in asyncio's shared default executor,
and behind the rest of the process."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from specialistly.core import passwords
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


@pytest.mark.skipif(sys.platform != "linux", reason="only Linux gives a thread its own nice value")
def test_hashing_runs_at_a_lower_priority_than_the_rest_of_the_process() -> None:
    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = nice()

    async def scenario() -> int:
        assert await verify_password(
            await hash_password("correct horse battery"), "correct horse battery"
        )
        return await asyncio.get_running_loop().run_in_executor(passwords._HASHING, nice)

    assert asyncio.run(scenario()) == min(19, before + 10)
    assert nice() == before  # the caller's thread keeps its own


def test_hashing_runs_all_the_same_where_its_priority_cannot_be_lowered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: int) -> None:
        raise PermissionError("not allowed here")

    monkeypatch.setattr(os, "setpriority", refuse)
    pool = ThreadPoolExecutor(max_workers=1, initializer=passwords._behind_other_work)
    try:
        assert pool.submit(lambda: "hashed").result(timeout=10) == "hashed"
    finally:
        pool.shutdown()
