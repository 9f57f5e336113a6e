"""Emails over the whole way, with real workers and a real SMTP server: a booking made and
cancelled over HTTP mails each party exactly the messages it should, and a worker killed
while it sends loses no message and duplicates none."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from strawberry import relay

from specialistly.core.events import Event
from specialistly.features.outgoing import EmailStatus, OutgoingEmail
from tests.client import GraphQLClient, register
from tests.mail import MailSink, Received, SmtpServer
from tests.mail_bookings import BOOK, booking_input, first_slot, specialist_with_service
from tests.processes import Process
from tests.waiting import eventually

CANCEL = """mutation C($id: ID!, $reason: String) {
  cancelBooking(id: $id, reason: $reason) { booking { status } errors { field code } } }"""


# What registration sends (see test_account_mail.py), left out of the booking's messages.
ACCOUNT_SUBJECTS = ("Welcome to", "Confirm your email address")


def booking_mail(sink: MailSink, address: str) -> list[Received]:
    return [r for r in sink.to(address) if not r.subject.startswith(ACCOUNT_SUBJECTS)]


async def all_dispatched(booking_id: str) -> bool:
    raw = relay.GlobalID.from_id(booking_id).node_id
    found = await Event.find(Event.subject == f"bookings:{raw}").to_list()
    return bool(found) and all(e.dispatched_at is not None for e in found)


@pytest.mark.usefixtures("runtime")
async def test_a_booking_and_its_cancellation_mail_each_party_exactly_so(
    client: GraphQLClient, worker: Process, mailbox: MailSink
) -> None:
    specialist, service_id = await specialist_with_service(client)
    customer = await register(client, name="Noah Price")
    chosen = await first_slot(customer.client, service_id)
    made = await customer.client.data(BOOK, {"input": booking_input(service_id, chosen)})
    booking_id = made["createBooking"]["booking"]["id"]

    async def both_confirmed() -> bool:
        return bool(
            booking_mail(mailbox, customer.email) and booking_mail(mailbox, specialist.email)
        )

    await eventually(both_confirmed, within=90)
    cancelled = await specialist.client.data(CANCEL, {"id": booking_id, "reason": "Clash"})
    assert cancelled["cancelBooking"]["errors"] == []

    async def settled() -> bool:
        return len(booking_mail(mailbox, customer.email)) == 2 and await all_dispatched(booking_id)

    await eventually(settled, within=90)
    to_customer = booking_mail(mailbox, customer.email)
    assert [r.subject.split(":")[0] for r in to_customer] == ["Confirmed", "Cancelled"]
    assert "(America/New_York)" in to_customer[0].text()
    assert "https://meet.jit.si/specialistly-" in to_customer[0].text()
    to_specialist = booking_mail(mailbox, specialist.email)
    assert [r.subject.split(":")[0] for r in to_specialist] == ["New booking", "Cancelled"]
    assert "Noah Price" in to_specialist[0].text()


@pytest.fixture
def holding_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.mark.usefixtures("runtime")
async def test_a_worker_killed_mid_send_loses_nothing_and_duplicates_nothing(
    client: GraphQLClient,
    test_env: dict[str, str],
    holding_smtp: SmtpServer,
    tmp_path: Path,
    worker: Process,
    mailbox: MailSink,
) -> None:
    # The accounts' own emails go first, through the session's worker: this test's workers
    # then have the booking's to send.
    specialist, service_id = await specialist_with_service(client)
    customer = await register(client)

    async def welcomed() -> bool:
        return all(len(mailbox.to(a.email)) == 2 for a in (specialist, customer))

    await eventually(welcomed, within=90)
    worker.stop()  # only this test's workers, which mail the holding server, run
    env = {
        **test_env,
        "SPECIALISTLY_SMTP_PORT": str(holding_smtp.port),
        "SPECIALISTLY_EMAIL_SEND_LEASE": "PT3S",
    }
    sink = holding_smtp.sink
    sink.accepting.clear()
    workers: list[Process] = []

    def start_worker() -> Process:
        process = Process(f"worker{len(workers)}", ["worker", "--threads", "1"], env, tmp_path)
        process.start()
        workers.append(process)
        return process

    try:
        first = start_worker()
        chosen = await first_slot(customer.client, service_id)
        await customer.client.data(BOOK, {"input": booking_input(service_id, chosen)})

        async def held() -> bool:
            return sink.held.is_set()

        await eventually(held, within=90)  # the first confirmation is on the wire
        assert first.proc is not None
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=15)
        sink.accepting.set()

        start_worker()

        async def both_sent() -> list[Any] | None:
            found = await OutgoingEmail.find(
                {"to": {"$in": [customer.email, specialist.email]}}
            ).to_list()
            sent = [e for e in found if e.status == EmailStatus.SENT and e.booking_id]
            return sent if len(sent) == 2 else None

        sent = await eventually(both_sent, within=90)
        assert len(booking_mail(sink, customer.email)) == 1
        assert len(booking_mail(sink, specialist.email)) == 1
        assert max(e.attempts for e in sent) == 2  # the one cut off was sent once, later
    finally:
        sink.accepting.set()
        for process in workers:
            process.stop(kill=True)


PREFERENCES = "{ emailPreferences { reminders reviewRequests } }"
UPDATE_PREFERENCES = """mutation U($input: EmailPreferencesInput!) {
  updateEmailPreferences(input: $input) {
    preferences { reminders reviewRequests } errors { field code } } }"""


async def test_each_user_chooses_their_optional_emails(client: GraphQLClient) -> None:
    user = await register(client)
    both = {"reminders": True, "reviewRequests": True}
    assert (await user.client.data(PREFERENCES))["emailPreferences"] == both
    changed = await user.client.data(UPDATE_PREFERENCES, {"input": {"reviewRequests": False}})
    assert changed["updateEmailPreferences"] == {
        "preferences": {"reminders": True, "reviewRequests": False},
        "errors": [],
    }
    assert (await user.client.data(PREFERENCES))["emailPreferences"]["reviewRequests"] is False
    other = await register(client)
    assert (await other.client.data(PREFERENCES))["emailPreferences"] == both
    anonymous = await client.execute(PREFERENCES)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
