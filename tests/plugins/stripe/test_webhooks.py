"""Paying over HTTP: a paid booking hands the customer what Stripe.js needs, and only a
validly signed webhook confirms it (then the worker makes its meeting). Deliveries that are
forged, stale, repeated, out of order or about unknown bookings change nothing. A booking
refunded in full in Stripe's dashboard is cancelled by the platform."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId
from strawberry import relay

from specialistly.api.notifications import BookingCancelledNotice, BookingPartyType, notice_of
from specialistly.core import events
from specialistly.core.bookings import Booking
from specialistly.core.events import Event
from specialistly.features.notifications import message_of
from specialistly_stripe.webhooks import PATH, StripeEvent
from tests.bookings_fixtures import day_at, make_availability, make_service
from tests.client import Account, GraphQLClient, register, service_gid, user_id
from tests.mail import MailSink, Received
from tests.processes import Process
from tests.stripe_events import delivery, fixture, intent_event
from tests.stripe_events import event as stripe_event
from tests.waiting import dispatched, eventually

pytestmark = pytest.mark.usefixtures("runtime")

PAYMENT = "payment { provider status amount currency clientSecret publishableKey failure }"
CREATE = f"""
mutation Create($input: CreateBookingInput!) {{
  createBooking(input: $input) {{
    booking {{ id status {PAYMENT} }} errors {{ field code message }} }} }}"""
ONE = f"query One($id: ID!) {{ booking(id: $id) {{ status {PAYMENT} meeting {{ joinUrl }} }} }}"


async def book_paid(
    api_url: str, price: int = 4500, currency: str = "eur", **changes: Any
) -> tuple[Account, Account, dict[str, Any], dict[str, Any]]:
    """A specialist, a customer, the booking as createBooking answered it, and its input."""
    specialist = await register(GraphQLClient(api_url), "SPECIALIST")
    await make_availability(user_id(specialist))
    service = await make_service(user_id(specialist), price=price, currency=currency)
    customer = await register(GraphQLClient(api_url))
    variables = {
        "input": {
            "serviceId": service_gid(service.id),
            "start": day_at(10).isoformat(),
            "durationMinutes": 30,
            "customerTimezone": "Europe/Berlin",
            "idempotencyKey": secrets.token_hex(8),
            **changes,
        }
    }
    made = (await customer.client.data(CREATE, variables))["createBooking"]
    assert made["errors"] == []
    return specialist, customer, made["booking"], variables


async def intent_of(booking_id: str) -> str:
    stored = await Booking.get(PydanticObjectId(booking_id))
    assert stored is not None and stored.payment is not None
    return stored.payment.external_id


def db_id(booking: dict[str, Any]) -> str:
    return relay.GlobalID.from_id(booking["id"]).node_id


async def post(api_url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        return await http.post(PATH, content=body, headers=headers)


async def deliver(api_url: str, event: dict[str, Any], **sign_args: Any) -> httpx.Response:
    body, headers = delivery(event, **sign_args)
    return await post(api_url, body, headers)


async def status_of(account: Account, booking: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = (await account.client.data(ONE, {"id": booking["id"]}))["booking"]
    return found


async def test_a_signed_success_confirms_and_the_meeting_follows(
    api_url: str, worker: Process
) -> None:
    specialist, customer, booking, _ = await book_paid(api_url, price=4500, currency="eur")
    assert booking["status"] == "PENDING_PAYMENT"
    payment = booking["payment"]
    assert payment["provider"] == "stripe" and payment["status"] == "PENDING"
    assert (payment["amount"], payment["currency"]) == (4500, "eur")
    assert "_secret_" in payment["clientSecret"]
    assert payment["publishableKey"] == "pk_test_specialistly"
    # The specialist sees the payment but not what pays it; no secret key anywhere.
    theirs = await status_of(specialist, booking)
    assert theirs["payment"]["clientSecret"] is None
    assert "sk_test" not in json.dumps([booking, theirs])

    intent = await intent_of(db_id(booking))
    succeeded = intent_event("payment_intent.succeeded", intent, db_id(booking), 4500, "eur")
    answer = await deliver(api_url, succeeded)
    assert answer.status_code == 200 and answer.json()["outcome"] == "confirmed"

    async def meeting() -> dict[str, Any] | None:
        found = await status_of(customer, booking)
        return found if found["meeting"] else None

    confirmed = await eventually(meeting)
    assert confirmed["status"] == "CONFIRMED"
    assert confirmed["payment"]["status"] == "SUCCEEDED"
    assert confirmed["payment"]["clientSecret"] is None  # nothing left to pay
    assert confirmed["meeting"]["joinUrl"].startswith("https://")


async def test_asking_again_with_the_same_key_returns_the_same_payment(api_url: str) -> None:
    _, customer, booking, variables = await book_paid(api_url)
    again = (await customer.client.data(CREATE, variables))["createBooking"]
    assert again["booking"]["id"] == booking["id"]
    assert again["booking"]["payment"] == booking["payment"]


async def test_forged_or_stale_deliveries_are_refused_and_nothing_is_stored(
    api_url: str,
) -> None:
    _, customer, booking, _ = await book_paid(api_url)
    intent = await intent_of(db_id(booking))
    forged = intent_event("payment_intent.succeeded", intent, db_id(booking), 4500, "eur")
    body, headers = delivery(forged)
    tampered = body.replace(b'"amount":4500', b'"amount":1')
    stale = int(time.time()) - 301  # beyond the library's 300 seconds
    v0_only = {"stripe-signature": headers["stripe-signature"].replace("v1=", "v0=")}
    refused = [
        await deliver(api_url, forged, secret="whsec_someone_else"),
        await deliver(api_url, forged, timestamp=stale),
        await post(api_url, tampered, headers),
        await post(api_url, body, {"content-type": "application/json"}),
        await post(api_url, body, v0_only),
        await post(api_url, b"not json", {"stripe-signature": "t=1,v1=00"}),
    ]
    assert [r.status_code for r in refused] == [400] * len(refused)
    assert await StripeEvent.find(StripeEvent.event_id == forged["id"]).count() == 0
    assert (await status_of(customer, booking))["status"] == "PENDING_PAYMENT"


async def test_each_event_is_stored_once_and_a_replay_changes_nothing(api_url: str) -> None:
    _, _, booking, _ = await book_paid(api_url)
    intent = await intent_of(db_id(booking))
    succeeded = intent_event("payment_intent.succeeded", intent, db_id(booking), 4500, "eur")
    first = await deliver(api_url, succeeded)
    replay = await deliver(api_url, succeeded)  # signed anew, as Stripe does on a retry
    assert (first.json()["outcome"], replay.json()["outcome"]) == ("confirmed", "duplicate")
    assert await StripeEvent.find(StripeEvent.event_id == succeeded["id"]).count() == 1


async def test_a_failed_payment_may_be_retried_within_the_hold(api_url: str) -> None:
    _, customer, booking, _ = await book_paid(api_url)
    booking_id, intent = db_id(booking), await intent_of(db_id(booking))
    declined = {"code": "card_declined", "message": "Your card was declined."}
    failed = intent_event(
        "payment_intent.payment_failed",
        intent,
        booking_id,
        4500,
        "eur",
        last_payment_error=declined,
    )
    assert (await deliver(api_url, failed)).json()["outcome"] == "recorded"
    after_failure = await status_of(customer, booking)
    assert after_failure["status"] == "PENDING_PAYMENT"
    assert after_failure["payment"]["status"] == "FAILED"
    assert after_failure["payment"]["failure"] == "Your card was declined."
    assert after_failure["payment"]["clientSecret"]  # the customer can try again with it
    succeeded = intent_event("payment_intent.succeeded", intent, booking_id, 4500, "eur")
    assert (await deliver(api_url, succeeded)).json()["outcome"] == "confirmed"
    # A failure notice arriving after the success (out of order) changes nothing.
    late_failure = intent_event("payment_intent.payment_failed", intent, booking_id, 4500, "eur")
    assert (await deliver(api_url, late_failure)).json()["outcome"] == "ignored"
    final = await status_of(customer, booking)
    assert (final["status"], final["payment"]["status"]) == ("CONFIRMED", "SUCCEEDED")


async def test_events_for_unknown_bookings_are_recorded_and_change_nothing(api_url: str) -> None:
    _, customer, booking, _ = await book_paid(api_url)
    nobody = str(PydanticObjectId())
    strangers = [
        intent_event("payment_intent.succeeded", "pi_unknown", nobody, 1, "eur"),
        intent_event("payment_intent.succeeded", "pi_not_this_one", db_id(booking), 4500, "eur"),
        intent_event("payment_intent.succeeded", "pi_no_booking", "", 1, "eur"),
    ]
    for event in strangers:
        answer = await deliver(api_url, event)
        assert (answer.status_code, answer.json()["outcome"]) == (200, "unknown")
        [stored] = await StripeEvent.find(StripeEvent.event_id == event["id"]).to_list()
        assert stored.outcome == "unknown"
    assert (await status_of(customer, booking))["status"] == "PENDING_PAYMENT"


def dashboard_refund(amount: int) -> dict[str, Any]:
    """A refund made by hand in Stripe's dashboard: no metadata of ours."""
    return fixture("refund", id=f"re_{secrets.token_hex(8)}", amount=amount, metadata={})


def charge_refunded(
    charge: str, intent: str, amount: int, refunds: list[dict[str, Any]]
) -> dict[str, Any]:
    """`charge.refunded` listing every refund of the charge so far, newest first."""
    refunded = sum(int(refund["amount"]) for refund in refunds)
    listed = {"object": "list", "data": refunds, "has_more": False}
    obj = fixture(
        "charge",
        id=charge,
        amount=amount,
        currency="eur",
        payment_intent=intent,
        amount_refunded=refunded,
        refunded=refunded == amount,
        refunds=listed,
    )
    return stripe_event("charge.refunded", obj)


CANCELLED = f"""query One($id: ID!) {{
  booking(id: $id) {{ status cancelledAt cancelReason {PAYMENT} meeting {{ joinUrl }} }} }}"""


async def test_a_full_refund_in_stripes_dashboard_cancels_the_booking(
    api_url: str, worker: Process, mailbox: MailSink
) -> None:
    specialist, customer, booking, variables = await book_paid(api_url, price=4500)
    booking_id, intent = db_id(booking), await intent_of(db_id(booking))
    charge = f"ch_{secrets.token_hex(8)}"
    succeeded = intent_event(
        "payment_intent.succeeded", intent, booking_id, 4500, "eur", latest_charge=charge
    )
    assert (await deliver(api_url, succeeded)).json()["outcome"] == "confirmed"

    async def meeting() -> dict[str, Any] | None:
        found = await status_of(customer, booking)
        return found if found["meeting"] else None

    await eventually(meeting)

    # A partial refund only reconciles: the booking stands, with its meeting.
    first = dashboard_refund(1000)
    answer = await deliver(api_url, charge_refunded(charge, intent, 4500, [first]))
    assert answer.json()["outcome"] == "recorded"
    partly = await status_of(customer, booking)
    assert (partly["status"], partly["payment"]["status"]) == ("CONFIRMED", "SUCCEEDED")
    assert partly["meeting"] is not None

    # The rest refunded too: the platform cancels the booking.
    rest = dashboard_refund(3500)
    answer = await deliver(api_url, charge_refunded(charge, intent, 4500, [rest, first]))
    assert answer.json()["outcome"] == "recorded"
    found = (await customer.client.data(CANCELLED, {"id": booking["id"]}))["booking"]
    assert (found["status"], found["cancelReason"]) == ("REFUNDED", "refunded")
    assert found["cancelledAt"] is not None

    # Its meeting is cancelled with its provider and the notice names the platform. (The
    # webhook's unit of work publishes the event as the request ends, after its answer.)
    async def cancellation() -> Event | None:
        return await Event.find_one(
            Event.subject == f"bookings:{booking_id}", Event.name == events.BOOKING_CANCELLED
        )

    cancelled = await eventually(cancellation)
    assert cancelled.data["by"] == "platform" and cancelled.data["refund_percent"] == 100
    handled = await dispatched(cancelled.id)
    assert "meetings" in handled.handled_by
    notice = notice_of(json.loads(message_of(handled)))
    assert isinstance(notice, BookingCancelledNotice)
    assert notice.by == BookingPartyType.PLATFORM

    # The parties are told.
    def cancellations(address: str) -> list[Received]:
        return [r for r in mailbox.to(address) if r.subject.startswith("Cancelled:")]

    async def told() -> bool:
        return bool(cancellations(customer.email) and cancellations(specialist.email))

    await eventually(told)
    assert "by the platform" in cancellations(customer.email)[0].text()

    # The slot is free: another customer books the same time (a refused try writes nothing).
    other = await register(GraphQLClient(api_url))
    again = {"input": {**variables["input"], "idempotencyKey": secrets.token_hex(8)}}

    async def rebooked() -> dict[str, Any] | None:
        made: dict[str, Any] = (await other.client.data(CREATE, again))["createBooking"]
        return made if made["errors"] == [] else None

    assert (await eventually(rebooked))["booking"]["status"] == "PENDING_PAYMENT"
