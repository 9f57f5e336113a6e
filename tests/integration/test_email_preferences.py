"""Email preferences: non-essential emails carry a one-click unsubscribe (header and link),
the link's page changes nothing until its button (or a one-click POST) is used, forged
links do nothing, and an unwanted kind is no longer sent while essential emails still are."""

from __future__ import annotations

from datetime import timedelta

import httpx
from starlette.applications import Starlette

from specialistly.api import email_preferences as api
from specialistly.core.bookings import Booking
from specialistly.core.users import Role, User
from specialistly.features import email_preferences as prefs
from specialistly.features import mail, outgoing, reminders
from specialistly.features.email_templates import Rendered
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, day_at, make_availability, make_service, make_user
from tests.deliveries import deliver_booking_events
from tests.mail import MailSink


async def unsubscribe_page(runtime: Runtime, method: str, url: str) -> httpx.Response:
    app = Starlette(routes=list(api.http_routes()))
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        if method == "POST":  # as a mail client does it (RFC 8058)
            return await client.post(url, content=b"List-Unsubscribe=One-Click")
        return await client.get(url)


def path_of(url: str) -> str:
    return url[url.index(prefs.UNSUBSCRIBE_PATH) :]


async def confirmed(runtime: Runtime, customer: User, days: int) -> Booking:
    specialist = await make_user(Role.SPECIALIST)
    assert specialist.id is not None
    await make_availability(specialist.id)
    booking = await book(customer, await make_service(specialist.id), day_at(10, days=days))
    await deliver_booking_events(runtime, booking.id)
    return booking


async def test_a_reminder_carries_its_unsubscribe_and_stops_after_it(
    runtime: Runtime, mailbox: MailSink
) -> None:
    customer = await make_user()
    assert customer.id is not None
    first = await confirmed(runtime, customer, days=3)
    await reminders.send_due(runtime, first.start - timedelta(hours=20))
    [reminder] = [r for r in mailbox.to(customer.email) if r.subject.startswith("Reminder")]
    header = str(reminder.message["List-Unsubscribe"])
    assert reminder.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header.strip("<>")
    assert url in reminder.text()
    assert url.startswith(f"{runtime.settings.public_url}/email/unsubscribe?token=")
    assert "List-Unsubscribe" not in mailbox.to(customer.email)[0].message  # confirmation

    page = await unsubscribe_page(runtime, "GET", path_of(url))
    assert page.status_code == 200
    assert "<form method='post'" in page.text
    assert (await prefs.preferences_of(customer.id)).reminders  # looking changes nothing

    done = await unsubscribe_page(runtime, "POST", path_of(url))
    assert done.status_code == 200
    assert not (await prefs.preferences_of(customer.id)).reminders
    assert (await prefs.preferences_of(customer.id)).review_requests

    second = await confirmed(runtime, customer, days=5)  # still confirmed by email
    await reminders.send_due(runtime, second.start - timedelta(hours=20))
    subjects = [r.subject.split(":")[0] for r in mailbox.to(customer.email)]
    assert subjects == ["Confirmed", "Reminder", "Confirmed"]
    unwanted = await outgoing.OutgoingEmail.find(
        outgoing.OutgoingEmail.booking_id == second.id,
        outgoing.OutgoingEmail.template == "reminder_customer",
    ).to_list()
    assert [e.status for e in unwanted] == [outgoing.EmailStatus.SUPPRESSED]


async def test_a_forged_link_changes_nothing(runtime: Runtime) -> None:
    victim, attacker = await make_user(), await make_user()
    assert victim.id is not None and attacker.id is not None
    mine = prefs.unsubscribe_token(runtime.settings, attacker.id, prefs.EmailKind.REMINDERS)
    forged = mine.replace(str(attacker.id), str(victim.id))
    for token in (forged, "nonsense", f"{victim.id}.reminders."):
        answer = await unsubscribe_page(runtime, "POST", f"/email/unsubscribe?token={token}")
        assert answer.status_code == 400
    assert (await prefs.preferences_of(victim.id)).reminders


async def test_an_unwanted_review_request_is_not_sent(runtime: Runtime, mailbox: MailSink) -> None:
    user = await make_user()
    assert user.id is not None
    await prefs.set_preferences(user.id, {prefs.EmailKind.REVIEW_REQUESTS: False})
    for template in ("review_request", "booking_cancelled"):
        draft = outgoing.Draft(
            key=f"test:{user.id}:{template}",
            template=template,
            to=user.email,
            rendered=Rendered(template, "t", "<p>h</p>"),
            user_id=user.id,
        )
        await mail.deliver(draft, runtime)
    assert [r.subject for r in mailbox.to(user.email)] == ["booking_cancelled"]
