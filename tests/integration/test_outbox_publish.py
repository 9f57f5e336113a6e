"""Publishing an outbox copies its events once and empties it, even after an interrupted run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from beanie import Document

from specialistly.core.bookings import Booking
from specialistly.core.events import Event, OutboxEvent, publish_outbox, unit_of_work
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, day_at, make_service, make_user
from tests.commands import recording

pytestmark = pytest.mark.usefixtures("runtime")


async def test_a_publication_interrupted_after_copying_is_finished_once(
    runtime: Runtime,
) -> None:
    async def broker_down(model: type[Document], doc_id: Any, **_: Any) -> int:
        raise ConnectionError("broker unreachable")

    async with unit_of_work(broker_down):
        booking = await book(await make_user(), await make_service(), day_at(14))
    assert booking.id is not None
    raw = await Booking.get_pymongo_collection().find_one({"_id": booking.id})
    assert raw is not None
    # A run that stopped between copying the first event and emptying the outbox.
    first = OutboxEvent.model_validate(raw["outbox"][0])
    subject = f"bookings:{booking.id}"
    await Event(
        id=first.id, name=first.name, subject=subject, occurred_at=first.occurred_at
    ).insert()

    assert await runtime.publish(Booking, booking.id) == 2

    found = await Event.find(Event.subject == subject).to_list()
    # The session's worker may already have added the meeting's event.
    assert sorted(e.name for e in found if e.name.startswith("booking.")) == [
        "booking.confirmed",
        "booking.created",
    ]
    again = await Booking.get(booking.id)
    assert again is not None
    assert again.outbox == []
    assert await runtime.publish(Booking, booking.id) == 0


async def test_the_events_of_one_publication_are_enqueued_as_one_job_in_order() -> None:
    async def nowhere(model: type[Document], doc_id: Any, **_: Any) -> int:
        return 0

    async with unit_of_work(nowhere):  # published below, by hand
        booking = await book(await make_user(), await make_service(), day_at(15))
    enqueued: list[tuple[str, ...]] = []

    async def enqueue(*event_ids: str) -> None:
        enqueued.append(event_ids)

    assert await publish_outbox(Booking, booking.id, enqueue, lease=timedelta(minutes=1)) == 2

    [job] = enqueued
    stored = [await Event.get(event_id) for event_id in job]
    assert [e.name for e in stored if e is not None] == ["booking.created", "booking.confirmed"]


async def test_a_publication_reads_the_outbox_once_and_empties_it_in_one_write(
    runtime: Runtime,
) -> None:
    async def nowhere(model: type[Document], doc_id: Any, **_: Any) -> int:
        return 0

    async with unit_of_work(nowhere):  # published below, by hand
        booking = await book(await make_user(), await make_service(), day_at(16))

    async with recording(runtime) as commands:
        assert await runtime.publish(Booking, booking.id) == 2
    assert commands.on("bookings") == ["find", "update"]
    raw = await Booking.get_pymongo_collection().find_one({"_id": booking.id})
    assert raw is not None and raw["outbox"] == [] and raw["outbox_waiting"] is False
