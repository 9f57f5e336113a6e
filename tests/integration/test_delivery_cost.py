"""What delivering an event costs the database: the bookkeeping of a delivery stays the
same however many plugins handle the event, and a new email needs no lock."""

from __future__ import annotations

import secrets

import pytest
from beanie import PydanticObjectId

from specialistly.core import booking_changes, events
from specialistly.core import payments as core_payments
from specialistly.core.bookings import Booking, booking_lock
from specialistly.core.events import Event, new_event, update_with_events
from specialistly.features import mail, meetings, outgoing
from specialistly.features import notifications_inbox as inbox
from specialistly.features import payments as payment_path
from specialistly.plugin_system import dispatch
from specialistly.processes import jobs
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, day_at, make_service, make_user
from tests.commands import recording
from tests.factories import (
    confirmed_booking_document,
    make_specialist,
    quiet_event,
    stored_event,
)
from tests.mail import MailSink

SUBJECT = "test:delivery-cost"


async def test_a_delivery_reads_and_writes_its_event_once(runtime: Runtime) -> None:
    event = await quiet_event("test.nobody-cares", SUBJECT)
    plugins = runtime.plugins.call_order("on_event")
    assert len(plugins) > 5

    async with recording(runtime) as commands:
        assert await dispatch.dispatch_event(str(event.id), runtime)

    assert commands.on("events") == ["find", "update"]
    assert commands.on("locks") == []  # done: see plugin_system/dispatch.py
    stored = await Event.get(event.id)
    assert stored is not None and stored.dispatched_at is not None and not stored.pending
    assert sorted(stored.handled_by) == sorted(plugins)


async def test_a_failed_delivery_records_who_succeeded_with_its_attempt(
    runtime: Runtime,
) -> None:
    event = await quiet_event("test.failing", SUBJECT, {"fail": 1})

    async with recording(runtime) as commands:
        assert not await dispatch.dispatch_event(str(event.id), runtime)

    # One write: who succeeded, the attempt and when to try again (read for the backoff).
    assert commands.on("events") == ["find", "find", "update"]
    stored = await Event.get(event.id)
    assert stored is not None and stored.pending and stored.attempts == 1
    others = [n for n in runtime.plugins.call_order("on_event") if n != "tests.plugins.example"]
    assert sorted(stored.handled_by) == sorted(others)


async def test_a_new_email_is_sent_with_one_insert_and_one_update(
    runtime: Runtime, mailbox: MailSink
) -> None:
    user = await make_user()
    values = {"recipient_name": "T", "reconnect_url": "https://x.example"}
    draft = outgoing.Draft(
        key=f"test:{secrets.token_hex(4)}",
        template="zoom_reconnect",
        to=user.email,
        rendered=mail.templates(runtime.settings).render("zoom_reconnect", values),
    )

    async with recording(runtime) as commands:
        sent = await mail.deliver(draft, runtime)
    assert commands.on("emails") == ["insert", "update"]
    assert commands.on("locks") == []

    again = await mail.deliver(draft, runtime)  # a redelivered event
    assert sent.status == again.status == outgoing.EmailStatus.SENT
    assert again.attempts == 1
    assert len(mailbox.to(user.email)) == 1


async def test_the_payment_path_reads_no_booking_for_events_it_ignores(runtime: Runtime) -> None:
    booking_id = str(PydanticObjectId())
    ignored = [
        (events.BOOKING_CREATED, {}),
        (events.BOOKING_CONFIRMED, {}),
        (events.MEETING_CREATED, {}),
        (core_payments.PAYMENT_SUCCEEDED, {"late": False}),
    ]
    async with recording(runtime) as commands:
        for name, data in ignored:
            event = stored_event(name, f"bookings:{booking_id}", {"booking_id": booking_id, **data})
            await payment_path.on_event(event, runtime)
        assert commands.on("bookings") == []

        late = {"booking_id": booking_id, "late": True}
        await payment_path.on_event(
            stored_event(core_payments.PAYMENT_SUCCEEDED, f"bookings:{booking_id}", late), runtime
        )
        assert commands.on("bookings") == ["find"]


async def test_in_app_notifications_do_not_count_a_bookings_moves(runtime: Runtime) -> None:
    booking = await book(await make_user(), await make_service(), day_at(13))
    subject = f"bookings:{booking.id}"
    data: dict[str, object] = {"booking_id": str(booking.id)}
    event = await stored_event(events.BOOKING_CONFIRMED, subject, data).insert()

    async with recording(runtime) as commands:
        await inbox.on_event(event, runtime)

    assert commands.on("events") == []  # the moves are an invitation's, and it sends none
    told = await inbox.Notification.find({"event_id": event.id}).to_list()
    assert {n.user_id for n in told} == {booking.customer_id, booking.specialist_id}


async def test_one_job_delivers_each_of_its_events_even_after_one_fails(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken, fine = (
        await quiet_event("test.broken", SUBJECT),
        await quiet_event("test.fine", SUBJECT),
    )
    deliver = dispatch.dispatch_event

    async def database_gone_for_one(event_id: str, runtime: Runtime) -> bool:
        if event_id == str(broken.id):
            raise ConnectionError("database unreachable")
        return await deliver(event_id, runtime)

    monkeypatch.setattr(dispatch, "dispatch_event", database_gone_for_one)
    with pytest.raises(ConnectionError):  # the job counts as failed
        await jobs.dispatch_event(runtime, str(broken.id), str(fine.id))

    delivered = await Event.get(fine.id)
    assert delivered is not None and delivered.dispatched_at is not None
    left = await Event.get(broken.id)  # to the sweeper
    assert left is not None and left.pending


async def test_a_meeting_is_made_without_reading_the_profile_when_hours_say_the_zone(
    runtime: Runtime,
) -> None:
    booking = await book(await make_user(), await make_service(), day_at(16))

    async with recording(runtime) as commands:
        await meetings.ensure_meeting(booking, runtime)

    assert commands.on("specialist_profiles") == []
    made = await Booking.get(booking.id)
    assert made is not None and made.meeting is not None


async def test_a_change_under_its_lock_publishes_its_events_without_reading_them_again(
    runtime: Runtime,
) -> None:
    booking = await confirmed_booking_document(PydanticObjectId(), day_at(9), 30).insert()

    assert booking.id is not None
    async with recording(runtime) as commands, runtime.unit_of_work(), booking_lock(booking.id):
        assert await update_with_events(
            Booking, {"_id": booking.id}, {"$set": {"notes": "x"}}, [new_event("test.noted")]
        )

    # The update answers the outbox as stored, which its lock holder then empties.
    assert commands.on("bookings") == ["findAndModify", "update"]
    assert commands.on("events") == ["insert"]
    raw = await Booking.get_pymongo_collection().find_one({"_id": booking.id})
    assert raw is not None and raw["outbox"] == [] and raw["outbox_waiting"] is False
    published = await Event.find({"subject": f"bookings:{booking.id}"}).to_list()
    assert [e.name for e in published] == ["test.noted"]


async def booking_events(booking: Booking, *names: str) -> list[str]:
    data: dict[str, object] = {"booking_id": str(booking.id)}
    subject = f"bookings:{booking.id}"
    return [str((await quiet_event(name, subject, data)).id) for name in names]


async def test_the_handlers_of_one_job_read_its_booking_once(
    runtime: Runtime, mailbox: MailSink
) -> None:
    customer, specialist = await make_user(), await make_specialist()
    assert specialist.id is not None
    booking = confirmed_booking_document(specialist.id, day_at(10), 30)
    booking.customer_id = customer.id  # type: ignore[assignment]
    await booking.insert()
    job = await booking_events(booking, events.BOOKING_CREATED, events.BOOKING_CANCELLED)

    async with recording(runtime) as commands:
        await jobs.dispatch_event(runtime, *job)

    # Notices, emails, in-app notifications, meetings and payments all look at it.
    assert commands.on("bookings") == ["find"]
    assert len(mailbox.to(customer.email)) == len(mailbox.to(specialist.email)) == 1
    told = await inbox.Notification.find({"booking_id": booking.id}).to_list()
    assert {n.user_id for n in told} == {customer.id, specialist.id}


async def test_a_booking_the_job_changed_is_read_again_by_its_next_handlers(
    runtime: Runtime, mailbox: MailSink
) -> None:
    specialist = await make_specialist()
    assert specialist.id is not None
    booking = await confirmed_booking_document(specialist.id, day_at(11), 30).insert()
    # The first confirmation makes the meeting; the second one's emails need its link.
    job = await booking_events(booking, events.BOOKING_CONFIRMED, events.BOOKING_CONFIRMED)

    async with recording(runtime) as commands, runtime.unit_of_work():  # as the worker runs it
        await jobs.dispatch_event(runtime, *job)

    # Read, read again inside the meeting's claim, stored with its event (published under
    # the lock), and read again once the lock is given back.
    assert commands.on("bookings") == ["find", "find", "findAndModify", "update", "find"]
    made = await Booking.get(booking.id)
    assert made is not None and made.meeting is not None
    [confirmation] = mailbox.to(specialist.email)
    assert made.meeting.join_url in confirmation.text()


async def test_only_a_moved_booking_has_its_moves_counted_for_its_invitations(
    runtime: Runtime, mailbox: MailSink
) -> None:
    customer = await make_user()
    booking = await book(customer, await make_service(), day_at(15))
    assert booking.moves == 0
    data: dict[str, object] = {"booking_id": str(booking.id)}
    cancelled = await quiet_event(events.BOOKING_CANCELLED, f"bookings:{booking.id}", data)

    async with recording(runtime) as commands:
        await mail.on_event(cancelled, runtime)

    assert commands.on("events") == []  # never moved: its invitation's sequence is 0
    sent = await outgoing.OutgoingEmail.find_one(
        {"key": f"event:{cancelled.id}:{customer.id}:booking_cancelled"}
    )
    assert sent is not None and sent.status == outgoing.EmailStatus.SENT

    moved = await booking_changes.reschedule(str(booking.id), customer, day_at(16))
    assert moved.moves == 1
    rescheduled = await quiet_event(events.BOOKING_RESCHEDULED, f"bookings:{booking.id}", data)
    async with recording(runtime) as commands:
        await mail.on_event(rescheduled, runtime)
    assert commands.on("events") == ["aggregate"]
