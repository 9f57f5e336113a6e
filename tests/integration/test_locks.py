"""Document locks: one writer at a time, safe to take again when an answer was lost, and
taken over once their holder's lease has ended."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
import pytest_asyncio
from beanie import Document, init_beanie
from bson import ObjectId
from pymongo import AsyncMongoClient

from specialistly.core import locks as locks_module
from specialistly.core.bookings import Booking
from specialistly.core.clock import utcnow
from specialistly.core.locks import COLLECTION, WAIT, document_lock
from specialistly.runtime import Runtime
from specialistly.settings import Settings
from tests.commands import Commands
from tests.faults import ResettingProxy

pytestmark = pytest.mark.usefixtures("runtime")
_SECOND = timedelta(seconds=1)


class Probe(Document):
    """A document type of its own, reached through the proxy (the others are not)."""

    class Settings:
        name = "lock_probes"


@pytest_asyncio.fixture(loop_scope="session")
async def through_proxy(proxy: ResettingProxy, settings: Settings) -> AsyncIterator[None]:
    client: AsyncMongoClient = AsyncMongoClient(  # type: ignore[type-arg]
        f"mongodb://127.0.0.1:{proxy.port}/", tz_aware=True
    )
    await init_beanie(database=client[settings.database], document_models=[Probe])
    try:
        yield
    finally:
        proxy.fail_next(0)
        await client.close()


async def test_one_writer_at_a_time(through_proxy: None) -> None:
    inside: list[int] = []
    most = 0

    async def write(n: int) -> None:
        nonlocal most
        async with document_lock(Probe, "shared"):
            inside.append(n)
            most = max(most, len(inside))
            await asyncio.sleep(0.01)
            inside.remove(n)

    await asyncio.gather(*(write(n) for n in range(8)))
    assert most == 1


async def test_a_lock_whose_answer_was_lost_is_taken(
    through_proxy: None, proxy: ResettingProxy
) -> None:
    locks = Probe.get_pymongo_collection().database.get_collection(COLLECTION)
    resets = proxy.resets
    # The lock's insert reaches the database, which writes it; its answer never arrives.
    proxy.fail_next(1, answered=False)
    async with document_lock(Probe, "lost", wait=timedelta(seconds=3)):
        assert await locks.find_one({"_id": "lock_probes:lost"}) is not None
    assert proxy.resets == resets + 1
    assert await locks.find_one({"_id": "lock_probes:lost"}) is None  # given back


async def test_a_lock_given_back_while_the_database_drops_connections(
    through_proxy: None, proxy: ResettingProxy
) -> None:
    locks = Probe.get_pymongo_collection().database.get_collection(COLLECTION)
    async with document_lock(Probe, "release"):
        proxy.fail_next(2)  # the release's first attempt and the driver's own retry
    assert await locks.find_one({"_id": "lock_probes:release"}) is None


async def test_a_lock_whose_holder_is_gone_is_taken_when_its_lease_has_ended(
    runtime: Runtime,
) -> None:
    locks = runtime.mongo[runtime.settings.database][COLLECTION]
    for wait in (timedelta(0), WAIT):  # at the deadline, and on a later refusal
        key = f"bookings:{ObjectId()}"
        await locks.insert_one({"_id": key, "token": "crashed", "until": utcnow() - _SECOND})
        async with document_lock(Booking, key.split(":")[1], wait=wait):
            held = await locks.find_one({"_id": key})
            assert held is not None and held["token"] != "crashed"


async def test_a_waiter_asks_who_holds_the_lock_only_once_refused_twice(
    runtime: Runtime, commands: Commands, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first refusal is a lock in use: the waiter tries again without looking it up."""
    locks = runtime.mongo[runtime.settings.database][COLLECTION]
    doc_id = ObjectId()
    key = f"bookings:{doc_id}"
    await locks.insert_one({"_id": key, "token": "other", "until": utcnow() + WAIT})

    async def sleep(seconds: float) -> None:  # the waiter's, once refused
        await locks.delete_one({"_id": key})  # the holder is done meanwhile
        await asyncio.sleep(seconds)

    monkeypatch.setattr(locks_module, "asyncio", SimpleNamespace(sleep=sleep))
    async with document_lock(Booking, doc_id):
        pass
    assert commands.on(COLLECTION) == ["insert", "insert", "delete"]
