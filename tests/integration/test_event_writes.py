"""The writers of an event that must not lose each other's writes hold its lock: failed
deliveries of one event at once (a redelivery by the sweeper may overlap the first one)
and the sweeper's lease. A delivery that succeeded needs no lock.

FerretDB v1 applies an update as an unisolated read-modify-write of the whole document:
without the lock, of two concurrent writes one may put back what the other changed, and an
event is retried without its attempts growing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from specialistly.core.events import Event
from specialistly.core.locks import document_lock
from specialistly.plugin_system import dispatch
from specialistly.processes import jobs
from specialistly.runtime import Runtime
from tests.factories import quiet_event

pytestmark = pytest.mark.usefixtures("runtime")

# Deliveries at once, few enough that none waits for the event's lock too long on a loaded
# machine, enough for a lost write to show.
WRITERS = 6


async def test_deliveries_at_once_each_count_their_attempt(runtime: Runtime) -> None:
    # Retries an hour apart: no sweeper delivers the event again during the test.
    slow = runtime.settings.model_copy(update={"event_retry_delay": timedelta(hours=1)})
    quiet = dataclasses.replace(runtime, settings=slow)
    event = await quiet_event("test.failing", "test:lost-updates", data={"fail": 1})

    done = await asyncio.gather(
        *(dispatch.dispatch_event(str(event.id), quiet) for _ in range(WRITERS))
    )

    assert not any(done)
    stored = await Event.get(event.id)
    assert stored is not None
    assert stored.attempts == WRITERS
    # Every plugin but the failing one recorded its success once, none lost.
    others = [n for n in runtime.plugins.call_order("on_event") if n != "tests.plugins.example"]
    assert sorted(stored.handled_by) == sorted(others)


async def test_the_sweeper_leases_no_event_that_another_writer_holds() -> None:
    event = await quiet_event("test.lease", "test:lease")
    read = await Event.get(event.id)  # as the sweeper reads it (to the millisecond)
    assert read is not None
    event = read
    later = event.next_attempt_at + timedelta(minutes=5)

    async with document_lock(Event, event.id):
        assert not await jobs.lease(event, later)
    held = await Event.get(event.id)
    assert held is not None and held.next_attempt_at == event.next_attempt_at

    assert await jobs.lease(event, later)
    leased = await Event.get(event.id)
    assert leased is not None and leased.next_attempt_at == later


async def test_a_delivery_that_succeeded_is_recorded_while_another_holds_the_lock(
    runtime: Runtime,
) -> None:
    event = await quiet_event("test.nobody-cares", "test:unlocked-success")

    async with document_lock(Event, event.id):  # a lease or a failed delivery, writing
        assert await dispatch.dispatch_event(str(event.id), runtime)

    stored = await Event.get(event.id)
    assert stored is not None and stored.dispatched_at is not None and not stored.pending


async def test_a_success_put_back_by_a_concurrent_write_is_delivered_again(
    runtime: Runtime,
) -> None:
    event = await quiet_event("test.nobody-cares", "test:success-put-back")
    as_read = await Event.get_pymongo_collection().find_one({"_id": event.id})
    assert as_read is not None
    assert await dispatch.dispatch_event(str(event.id), runtime)

    # What an unisolated write that read the event before the delivery wrote puts back.
    await Event.get_pymongo_collection().replace_one({"_id": event.id}, as_read)
    assert await dispatch.dispatch_event(str(event.id), runtime)

    stored = await Event.get(event.id)
    assert stored is not None and stored.dispatched_at is not None and not stored.pending
    assert sorted(stored.handled_by) == sorted(runtime.plugins.call_order("on_event"))
