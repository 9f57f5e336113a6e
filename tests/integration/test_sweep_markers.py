"""The top-level markers the sweeps find their work by, equalities FerretDB pushes down:
`outbox_waiting` while an outbox holds events, `releasing` while the cells of a booking
that stopped holding its time wait to be freed, `rescheduling` while a move is under way,
a booking's `end_day` (the UTC day it ends) and an event's `pending` until every plugin
has handled it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from beanie import Document, PydanticObjectId

from specialistly.core import booking_changes, claims, sweeps
from specialistly.core.bookings import Booking, BookingStatus, day_number, transition
from specialistly.core.clock import utcnow
from specialistly.core.events import Event, due_events, unit_of_work
from specialistly.features import reminders
from specialistly.features.outgoing import OutgoingEmail
from specialistly.plugin_system import dispatch
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, cells_of, day_at, make_service, make_user
from tests.commands import recording
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


async def test_a_booking_keeps_the_days_it_starts_and_ends_through_its_moves() -> None:
    customer = await make_user()
    booking = await book(customer, await make_service(), day_at(12))
    stored_days = await stored(booking.id)
    assert (stored_days["start_day"], stored_days["end_day"]) == (
        day_number(booking.start),
        day_number(booking.end),
    )

    moved = await booking_changes.reschedule(str(booking.id), customer, day_at(12, days=4))

    assert day_number(moved.end) == day_number(booking.end) + 1
    stored_days = await stored(booking.id)
    assert (stored_days["start_day"], stored_days["end_day"]) == (
        day_number(moved.start),
        day_number(moved.end),
    )


async def test_a_move_is_marked_rescheduling_while_under_way() -> None:
    customer = await make_user()
    booking = await book(customer, await make_service(), day_at(13))
    assert (await stored(booking.id))["rescheduling"] is False
    seen: list[bool] = []
    claim = claims.claim_with_places

    async def watching(*args: Any, **kwargs: Any) -> list[str]:
        seen.append((await stored(booking.id))["rescheduling"])
        return await claim(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(claims, "claim_with_places", watching)
        await booking_changes.reschedule(str(booking.id), customer, day_at(15))

    assert seen == [True]
    assert (await stored(booking.id))["rescheduling"] is False


async def test_ended_bookings_are_found_by_their_day_and_the_others_by_every_day() -> None:
    recent = await book(await make_user(), await make_service(), day_at(9))
    # Stored before bookings kept their day: only a sweep of every day finds it.
    older = await book(await make_user(), await make_service(), day_at(10))
    await Booking.get_pymongo_collection().update_one(
        {"_id": older.id}, {"$unset": {"end_day": ""}}
    )
    now = older.end + timedelta(minutes=1)

    found_by_day = await sweeps.complete_past(now)
    assert recent.id in found_by_day and older.id not in found_by_day
    assert older.id in await sweeps.complete_past(now, every_day=True)


def test_every_day_is_swept_first_then_once_an_interval() -> None:
    every_day = sweeps.EveryDaySweep(timedelta(hours=1))
    now = utcnow()
    assert every_day.due(now)
    assert not every_day.due(now + timedelta(minutes=59))
    assert every_day.due(now + timedelta(hours=1))
    assert not every_day.due(now + timedelta(hours=1, minutes=1))


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
    assert [("rescheduling", 1)] in keys and [("end_day", 1), ("status", 1)] in keys
    places = Booking.get_pymongo_collection().database["booking_places"]
    assert [("key", 1)] in [index["key"] for index in (await places.index_information()).values()]


async def test_the_sweeps_of_bookings_to_come_read_them_a_day_at_a_time(
    runtime: Runtime,
) -> None:
    now = utcnow()
    async with recording(runtime) as commands:
        await sweeps.complete_past(now)
        await reminders.send_due(runtime, now)

    finds = [e.command["filter"] for e in commands.events if e.command_name == "find"]
    searches = [f for f in finds if "_id" not in f]  # not the reads of those it found
    assert len(searches) >= 4  # two days each at least
    assert all(isinstance(f.get("end_day") or f.get("start_day"), int) for f in searches)


async def test_bookings_stored_before_they_kept_their_days_are_given_them(
    runtime: Runtime,
) -> None:
    customer = await make_user()
    older = await book(customer, await make_service(), day_at(11))
    await Booking.get_pymongo_collection().update_one(
        {"_id": older.id}, {"$unset": {"start_day": "", "end_day": ""}}
    )
    reminded_at = older.start - timedelta(hours=20)

    async def reminded() -> bool:
        return await OutgoingEmail.find_one({"booking_id": older.id}) is not None

    await reminders.send_due(runtime, reminded_at)
    assert not await reminded()  # not found by its day

    assert older.id in await sweeps.keep_days()

    kept = await stored(older.id)
    assert (kept["start_day"], kept["end_day"]) == (day_number(older.start), day_number(older.end))
    await reminders.send_due(runtime, reminded_at)
    assert await reminded()


async def test_a_move_that_stopped_before_moves_were_flagged_is_tidied() -> None:
    customer = await make_user()
    moving = await book(customer, await make_service(), day_at(17))
    stopped = utcnow().replace(microsecond=0)
    await Booking.get_pymongo_collection().update_one(
        {"_id": moving.id},
        {
            "$set": {"reschedule_started_at": stopped},
            "$unset": {"rescheduling": "", "start_day": ""},
        },
    )
    later = utcnow() + timedelta(minutes=2)
    assert moving.id not in await sweeps.release_abandoned(later)

    assert moving.id in await sweeps.keep_days()

    assert moving.id in await sweeps.release_abandoned(later)
    tidied = await stored(moving.id)
    assert (tidied["reschedule_started_at"], tidied["rescheduling"]) == (None, False)
