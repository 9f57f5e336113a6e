"""The emails of a booking's life, delivered in-process to a real SMTP server: who gets
which message, what it says, the calendar invitation, and that each is sent once."""

from __future__ import annotations

import secrets
from datetime import timedelta

import icalendar
import pytest

from specialistly.core import booking_changes
from specialistly.core.bookings import Booking
from specialistly.core.events import Event
from specialistly.core.services import Service
from specialistly.core.users import Role, SpecialistProfile, User
from specialistly.features import mail, outgoing
from specialistly.features.booking_mail import local_time
from specialistly.features.email_templates import Rendered
from specialistly.features.invites import uid
from specialistly.plugin_system.dispatch import dispatch_event
from specialistly.providers import EmailMessage, ProviderError
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, day_at, make_availability, make_service, make_user
from tests.deliveries import deliver_booking_events
from tests.mail import MailSink, Received

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"


async def parties() -> tuple[User, User, Service]:
    """A customer, a specialist in New York, and a free service of the specialist's."""
    customer = await make_user()
    specialist = await make_user(Role.SPECIALIST)
    assert specialist.id is not None
    await make_availability(specialist.id)
    await SpecialistProfile(
        user_id=specialist.id, slug=f"s-{secrets.token_hex(5)}", display_name="A", timezone=NEW_YORK
    ).insert()
    return customer, specialist, await make_service(specialist.id, title="Career chat")


async def confirmed_booking(runtime: Runtime) -> tuple[User, User, Booking]:
    customer, specialist, service = await parties()
    booking = await book(customer, service, day_at(10), notes="About my career", timezone=BERLIN)
    await deliver_booking_events(runtime, booking.id)
    stored = await Booking.get(booking.id)
    assert stored is not None
    return customer, specialist, stored


def invite(received: Received) -> icalendar.Event:
    calendar = icalendar.Calendar.from_ical(received.attachment("invite.ics"))
    [event] = calendar.walk("VEVENT")
    assert isinstance(event, icalendar.Event)
    return event


def sequence(event: icalendar.Event) -> int:
    return int(str(event["SEQUENCE"]))


def method(received: Received) -> str:
    return str(icalendar.Calendar.from_ical(received.attachment("invite.ics"))["METHOD"])


async def test_a_confirmed_booking_mails_each_party_once(
    runtime: Runtime, mailbox: MailSink
) -> None:
    customer, specialist, booking = await confirmed_booking(runtime)
    assert booking.meeting is not None

    [to_customer] = mailbox.to(customer.email)
    assert to_customer.subject.startswith("Confirmed: Career chat")
    text = to_customer.text()
    assert booking.meeting.join_url in text
    assert local_time(booking.start, BERLIN) in text  # 11:00 in Berlin for 10:00 UTC
    assert "(Europe/Berlin)" in text
    event = invite(to_customer)
    assert str(event["UID"]) == uid(str(booking.id), runtime.settings.public_url)
    assert event.decoded("DTSTART") == booking.start
    assert method(to_customer) == "REQUEST"

    [to_specialist] = mailbox.to(specialist.email)
    text = to_specialist.text()
    assert to_specialist.subject.startswith("New booking: Career chat with T")
    assert (booking.meeting.host_url or booking.meeting.join_url) in text
    assert "About my career" in text
    assert local_time(booking.start, NEW_YORK) in text
    assert str(invite(to_specialist)["UID"]) == str(event["UID"])


async def test_a_redelivered_event_sends_nothing_twice(runtime: Runtime, mailbox: MailSink) -> None:
    customer, specialist, booking = await confirmed_booking(runtime)
    subject = f"bookings:{booking.id}"
    await Event.find(Event.subject == subject).update(
        {"$set": {"dispatched_at": None, "handled_by": []}}
    )
    for event in await Event.find(Event.subject == subject).to_list():
        await dispatch_event(str(event.id), runtime)

    assert len(mailbox.to(customer.email)) == 1
    assert len(mailbox.to(specialist.email)) == 1
    assert (
        await outgoing.OutgoingEmail.find(outgoing.OutgoingEmail.booking_id == booking.id).count()
        == 2
    )


async def test_moving_and_cancelling_replace_the_invitation(
    runtime: Runtime, mailbox: MailSink
) -> None:
    customer, specialist, booking = await confirmed_booking(runtime)
    first = invite(mailbox.to(customer.email)[0])

    await booking_changes.reschedule(str(booking.id), customer, day_at(14))
    await deliver_booking_events(runtime, booking.id)
    moved = mailbox.to(customer.email)[1]
    assert moved.subject.startswith("Moved: Career chat is now")
    assert local_time(day_at(10), BERLIN) in moved.text()  # what it was
    assert local_time(day_at(14), BERLIN) in moved.text()
    assert str(invite(moved)["UID"]) == str(first["UID"])
    assert (sequence(first), sequence(invite(moved))) == (0, 1)
    assert invite(moved).decoded("DTSTART") == day_at(14)
    assert mailbox.to(specialist.email)[1].subject.startswith("Moved:")

    await booking_changes.cancel(str(booking.id), specialist, "I am ill")
    await deliver_booking_events(runtime, booking.id)
    cancelled = mailbox.to(customer.email)[2]
    assert cancelled.subject.startswith("Cancelled: Career chat")
    assert "cancelled by the specialist" in cancelled.text()
    assert "Reason: I am ill" in cancelled.text()
    assert method(cancelled) == "CANCEL"
    assert str(invite(cancelled)["UID"]) == str(first["UID"])
    assert sequence(invite(cancelled)) == 2
    assert len(mailbox.to(customer.email)) == 3
    assert len(mailbox.to(specialist.email)) == 3


async def emit(runtime: Runtime, name: str, **data: object) -> None:
    """Store and deliver an event of a plugin that is being built elsewhere."""
    event = await Event(
        name=name, subject=f"tests:{secrets.token_hex(4)}", data=data, occurred_at=day_at(9)
    ).insert()
    await dispatch_event(str(event.id), runtime)


async def test_events_of_other_plugins_are_handled_by_name(
    runtime: Runtime, mailbox: MailSink
) -> None:
    customer, specialist, booking = await confirmed_booking(runtime)
    url = "https://video.example/recordings/1"
    await emit(runtime, mail.RECORDING_READY, booking_id=str(booking.id), recording_url=url)
    await emit(runtime, mail.ZOOM_DISCONNECTED, specialist_id=str(specialist.id))

    [_, recording] = mailbox.to(customer.email)
    assert recording.subject == "The recording of Career chat is ready"
    assert url in recording.text()
    [_, recorded, reconnect] = mailbox.to(specialist.email)
    assert url in recorded.text()
    assert reconnect.subject == "Reconnect your Zoom account"
    assert "/settings/integrations" in reconnect.text()


async def test_a_refused_send_is_sent_once_when_delivered_again(
    runtime: Runtime, mailbox: MailSink
) -> None:
    mailbox.refuse_with = "451 Try again later"
    try:
        with pytest.raises(ProviderError):
            await emit_zoom(runtime, user := await make_user(Role.SPECIALIST))
    finally:
        mailbox.refuse_with = None
    [pending] = await outgoing.OutgoingEmail.find(outgoing.OutgoingEmail.to == user.email).to_list()
    assert pending.status == outgoing.EmailStatus.PENDING
    assert mailbox.to(user.email) == []

    await mail.deliver(draft_of(pending), runtime)
    await mail.deliver(draft_of(pending), runtime)
    assert len(mailbox.to(user.email)) == 1


async def emit_zoom(runtime: Runtime, user: User) -> None:
    event = await Event(
        name=mail.ZOOM_DISCONNECTED,
        subject="tests:zoom",
        data={"user_id": str(user.id)},
        occurred_at=day_at(9),
    ).insert()
    await mail.on_event(event, runtime)


def draft_of(email: outgoing.OutgoingEmail) -> outgoing.Draft:
    return outgoing.Draft(
        key=email.key,
        template=email.template,
        to=email.to,
        rendered=Rendered(email.subject, email.text, email.html),
    )


class Dying:
    """A provider whose process dies while it sends: the message never left."""

    name = "dying"
    display_name = "Dying"

    async def send(self, message: EmailMessage) -> str:
        raise SystemExit("killed mid-send")


async def test_a_sender_killed_mid_send_loses_nothing_and_duplicates_nothing(
    runtime: Runtime, mailbox: MailSink
) -> None:
    user = await make_user()
    draft = outgoing.Draft(
        key=f"test:{secrets.token_hex(4)}",
        template="zoom_reconnect",
        to=user.email,
        rendered=mail.templates(runtime.settings).render(
            "zoom_reconnect", {"recipient_name": "T", "reconnect_url": "https://x.example"}
        ),
    )
    recorded = await outgoing.record(draft)
    with pytest.raises(SystemExit):
        await outgoing.send(recorded, Dying(), "a@b.example")

    smtp = runtime.providers.email["smtp"]
    # Its lease still runs: a second sender does not send it meanwhile.
    with pytest.raises(outgoing.SendBusyError):
        await outgoing.send(recorded, smtp, "a@b.example")
    later = day_at(0, days=0) + timedelta(days=1)
    sent = await outgoing.send(recorded, smtp, "a@b.example", now=later)
    again = await outgoing.send(recorded, smtp, "a@b.example", now=later)

    assert sent.status == again.status == outgoing.EmailStatus.SENT
    assert sent.attempts == 2
    assert len(mailbox.to(user.email)) == 1


async def test_a_new_email_killed_mid_send_is_sent_once_its_lease_has_run_out(
    runtime: Runtime, mailbox: MailSink
) -> None:
    user = await make_user()
    draft = outgoing.Draft(
        key=f"test:{secrets.token_hex(4)}",
        template="zoom_reconnect",
        to=user.email,
        rendered=mail.templates(runtime.settings).render(
            "zoom_reconnect", {"recipient_name": "T", "reconnect_url": "https://x.example"}
        ),
    )
    recorded, leased = await outgoing.record_leased(draft)
    assert leased
    with pytest.raises(SystemExit):
        await outgoing.send_leased(recorded, Dying(), "a@b.example")

    # Recorded again (a redelivery), it is found, with the lease its first sender took.
    again, leased_again = await outgoing.record_leased(draft)
    assert again.id == recorded.id and not leased_again
    smtp = runtime.providers.email["smtp"]
    with pytest.raises(outgoing.SendBusyError):
        await outgoing.send(again, smtp, "a@b.example")
    later = day_at(0, days=0) + timedelta(days=1)
    sent = await outgoing.send(again, smtp, "a@b.example", now=later)

    assert sent.status == outgoing.EmailStatus.SENT
    assert sent.attempts == 2
    assert len(mailbox.to(user.email)) == 1
