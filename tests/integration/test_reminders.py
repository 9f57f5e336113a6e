"""Reminders under a clock the test sets (each sweep is given its `now`): the customer's
24 h and the specialist's 2 h before, once, never for a cancelled booking, moving with a
rescheduled one."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from specialistly.core import booking_changes
from specialistly.core.bookings import Booking
from specialistly.core.clock import utcnow
from specialistly.core.users import Role, User
from specialistly.features import reminders
from specialistly.features.booking_mail import local_time
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, day_at, make_availability, make_service, make_user
from tests.deliveries import deliver_booking_events
from tests.mail import MailSink, Received

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


async def booked(runtime: Runtime, start: datetime) -> tuple[User, User, Booking]:
    customer = await make_user()
    specialist = await make_user(Role.SPECIALIST)
    assert specialist.id is not None
    await make_availability(specialist.id)
    service = await make_service(specialist.id, title="Career chat")
    booking = await book(customer, service, start, timezone="Asia/Tokyo")
    await deliver_booking_events(runtime, booking.id)  # confirmed, with its meeting
    return customer, specialist, booking


def reminders_to(mailbox: MailSink, user: User) -> list[Received]:
    return [r for r in mailbox.to(user.email) if r.subject.startswith("Reminder:")]


async def test_each_party_is_reminded_once_at_its_moment(
    runtime: Runtime, mailbox: MailSink
) -> None:
    start = day_at(10, days=3)
    customer, specialist, _ = await booked(runtime, start)

    await reminders.send_due(runtime, start - 24 * HOUR - MINUTE)
    assert reminders_to(mailbox, customer) == []

    await reminders.send_due(runtime, start - 24 * HOUR)
    await reminders.send_due(runtime, start - 23 * HOUR)
    [reminder] = reminders_to(mailbox, customer)
    assert "starts in about 24 hours" in reminder.text()
    assert local_time(start, "Asia/Tokyo") in reminder.text()
    assert "Join the meeting: https://" in reminder.text()
    assert reminders_to(mailbox, specialist) == []

    await reminders.send_due(runtime, start - 2 * HOUR + MINUTE)
    await reminders.send_due(runtime, start - MINUTE)
    [to_specialist] = reminders_to(mailbox, specialist)
    assert "starts in about 2 hours" in to_specialist.text()
    assert "Host the meeting: https://" in to_specialist.text()
    assert len(reminders_to(mailbox, customer)) == 1

    await reminders.send_due(runtime, start + MINUTE)  # started: nothing more
    assert len(reminders_to(mailbox, customer)) == len(reminders_to(mailbox, specialist)) == 1


async def test_several_workers_sweeping_at_once_send_one(
    runtime: Runtime, mailbox: MailSink
) -> None:
    start = day_at(11, days=3)
    customer, _, _ = await booked(runtime, start)
    now = start - 20 * HOUR
    await asyncio.gather(*(reminders.send_due(runtime, now) for _ in range(4)))
    assert len(reminders_to(mailbox, customer)) == 1


async def test_a_cancelled_booking_is_not_reminded(runtime: Runtime, mailbox: MailSink) -> None:
    start = day_at(12, days=3)
    customer, _, booking = await booked(runtime, start)
    await booking_changes.cancel(str(booking.id), customer, "changed my mind")
    await reminders.send_due(runtime, start - 20 * HOUR)
    assert reminders_to(mailbox, customer) == []


async def test_a_rescheduled_booking_is_reminded_at_its_new_time(
    runtime: Runtime, mailbox: MailSink
) -> None:
    start, later = day_at(13, days=3), day_at(13, days=5)
    customer, _, booking = await booked(runtime, start)
    await booking_changes.reschedule(str(booking.id), customer, later)

    await reminders.send_due(runtime, start - 20 * HOUR)  # the old moment: nothing
    assert reminders_to(mailbox, customer) == []
    await reminders.send_due(runtime, later - 20 * HOUR)
    [reminder] = reminders_to(mailbox, customer)
    assert local_time(later, "Asia/Tokyo") in reminder.text()


async def test_a_booking_made_after_its_moment_gets_no_reminder(
    runtime: Runtime, mailbox: MailSink
) -> None:
    start = (utcnow() + 10 * HOUR).replace(minute=0, second=0, microsecond=0)
    customer, _, _ = await booked(runtime, start)
    await reminders.send_due(runtime, start - 3 * HOUR)
    assert reminders_to(mailbox, customer) == []
