"""The top-level markers the sweeps find their work by, equalities FerretDB pushes down:
`outbox_waiting` while an outbox holds events, `releasing` while the cells of a booking
that stopped holding its time wait to be freed, and an event's `pending` until every
plugin has handled it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from beanie import Document, PydanticObjectId

from specialistly.core import booking_changes, sweeps
from specialistly.core.bookings import Booking, BookingStatus, transition
from specialistly.core.clock import utcnow
from specialistly.core.events import Event, due_events, unit_of_work
from specialistly.plugin_system import dispatch
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, cells_of, day_at, make_service, make_user
from tests.factories import stored_event

pytestmark = pytest.mark.usefixtures("runtime")


async def stored(booking_id: PydanticObjectId | None) -> dict[str, Any]:
    raw: dict[str, Any] | None = await Booking.get_pymongo_collection().find_one(
        {"_id": booking_id}
    )
    assert raw is not None
    return raw


async def test_an_outbox_is_marked_waiting_until_it_is_published(runtime: Runtime) -> None:
    async def broker_down(model: type[Document], doc_id: Any, **_: Any) -> int:
        raise ConnectionError("broker unreachable")

    async with unit_of_work(broker_down):
        booking = await book(await make_user(), await make_service(), day_at(9))
    assert (await stored(booking.id))["outbox_waiting"] is True

    await runtime.publish(Booking, booking.id)
    published = await stored(booking.id)
    assert (published["outbox"], published["outbox_waiting"]) == ([], False)


async def test_a_booking_is_marked_releasing_until_its_cells_are_free() -> None:
    customer = await make_user()
    booking = await book(customer, await make_service(), day_at(10))
    # A cancellation that stopped right after its status change: the cells stay held.
    now = utcnow()
    await transition(booking, BookingStatus.CANCELLED, now, [])
    assert (await stored(booking.id))["releasing"] is True
    assert len(await cells_of(booking.id)) == 6

    assert booking.id not in await sweeps.release_abandoned(now)  # it may still be running
    later = now + timedelta(minutes=2)
    assert booking.id in await sweeps.release_abandoned(later)
    assert (await stored(booking.id))["releasing"] is False
    assert await cells_of(booking.id) == []
    assert booking.id not in await sweeps.release_abandoned(later)  # nothing left to do


async def test_a_finished_cancellation_leaves_nothing_to_release() -> None:
    customer = await make_user()
    booking = await book(customer, await make_service(), day_at(11))
    assert booking.id is not None
    await booking_changes.cancel(booking.id, customer)
    assert (await stored(booking.id))["releasing"] is False
    assert await cells_of(booking.id) == []


async def test_a_completed_booking_frees_its_cells_and_its_marker() -> None:
    booking = await book(await make_user(), await make_service(), day_at(12))
    assert booking.id in await sweeps.complete_past(booking.end + timedelta(minutes=1))
    done = await stored(booking.id)
    assert (done["status"], done["releasing"]) == ("completed", False)


async def test_only_pending_events_are_due(runtime: Runtime) -> None:
    later = utcnow() + timedelta(hours=1)  # out of reach of the session worker's sweeps
    waiting = stored_event("pushdown.probe", "bookings:x")
    waiting.next_attempt_at = later
    await waiting.insert()
    handled = stored_event("pushdown.probe", "bookings:y")
    handled.next_attempt_at, handled.pending, handled.dispatched_at = later, False, utcnow()
    await handled.insert()

    due = {event.id for event in await due_events(later + timedelta(minutes=1), limit=1000)}
    assert waiting.id in due and handled.id not in due

    assert await dispatch.dispatch_event(str(waiting.id), runtime)
    delivered = await Event.get(waiting.id)
    assert delivered is not None
    assert delivered.pending is False and delivered.dispatched_at is not None


async def test_the_sweeps_markers_and_the_places_key_are_indexed() -> None:
    bookings = await Booking.get_pymongo_collection().index_information()
    keys = [index["key"] for index in bookings.values()]
    assert [("outbox_waiting", 1)] in keys and [("releasing", 1)] in keys
    places = Booking.get_pymongo_collection().database["booking_places"]
    assert [("key", 1)] in [index["key"] for index in (await places.index_information()).values()]
