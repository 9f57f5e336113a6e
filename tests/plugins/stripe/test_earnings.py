"""Earnings over HTTP: a paid booking's charge, a refund made in Stripe's dashboard and a
dispute reach the booking and the ledger; specialists see their own, admins the totals."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId
from strawberry import relay

from specialistly.core.bookings import Booking
from specialistly.core.users import Role, User
from specialistly_stripe.webhooks import PATH
from tests.bookings_fixtures import day_at, make_availability, make_service
from tests.client import Account, GraphQLClient, register, service_gid, user_id
from tests.stripe_events import delivery, event, fixture

pytestmark = pytest.mark.usefixtures("runtime")

CREATE = """
mutation Create($input: CreateBookingInput!) {
  createBooking(input: $input) { booking { id } errors { code } } }"""
PAYMENT = """query One($id: ID!) { booking(id: $id) { status payment {
  status amount refundedAmount dispute refunds { reason amount } } } }"""
TOTALS = "currency gross platformFees refunds disputes net payouts entries"
EARNINGS = f"{{ myEarnings {{ {TOTALS} }} }}"
LEDGER = "{ myLedger(first: 10) { totalCount nodes { kind amount currency stripeId bookingId } } }"
PLATFORM = f"{{ platformEarnings {{ {TOTALS} }} }}"


async def deliver(api_url: str, body: dict[str, Any]) -> dict[str, Any]:
    raw, headers = delivery(body)
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        answer = await http.post(PATH, content=raw, headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def paid_booking(api_url: str) -> tuple[Account, Account, str, str, str]:
    """A specialist, a customer, a booking of 4500 JPY paid, its global id, PI and charge."""
    specialist = await register(GraphQLClient(api_url), "SPECIALIST")
    await make_availability(user_id(specialist))
    service = await make_service(user_id(specialist), price=4500, currency="jpy")
    customer = await register(GraphQLClient(api_url))
    made = await customer.client.data(
        CREATE,
        {
            "input": {
                "serviceId": service_gid(service.id),
                "start": day_at(10).isoformat(),
                "durationMinutes": 30,
                "customerTimezone": "Asia/Tokyo",
                "idempotencyKey": secrets.token_hex(8),
            }
        },
    )
    gid = made["createBooking"]["booking"]["id"]
    booking_id = relay.GlobalID.from_id(gid).node_id
    stored = await Booking.get(PydanticObjectId(booking_id))
    assert stored is not None and stored.payment is not None
    intent, charge = stored.payment.external_id, f"ch_{secrets.token_hex(8)}"
    succeeded = fixture(
        "payment_intent",
        id=intent,
        amount=4500,
        amount_received=4500,
        currency="jpy",
        status="succeeded",
        latest_charge=charge,
        application_fee_amount=None,
        metadata={"booking_id": booking_id},
    )
    assert (await deliver(api_url, event("payment_intent.succeeded", succeeded)))[
        "outcome"
    ] == "confirmed"
    return specialist, customer, gid, intent, charge


async def test_a_charge_a_dashboard_refund_and_a_dispute_reconcile(api_url: str) -> None:
    specialist, customer, gid, intent, charge = await paid_booking(api_url)
    # A refund made by hand in Stripe's dashboard (no metadata of ours).
    refund = fixture(
        "refund", id=f"re_{secrets.token_hex(6)}", amount=1000, currency="jpy", metadata={}
    )
    refunded = fixture(
        "charge",
        id=charge,
        amount=4500,
        currency="jpy",
        payment_intent=intent,
        amount_refunded=1000,
        refunds={"object": "list", "data": [refund], "has_more": False},
    )
    assert (await deliver(api_url, event("charge.refunded", refunded)))["outcome"] == "recorded"
    dispute = fixture(
        "dispute",
        id=f"dp_{secrets.token_hex(6)}",
        amount=500,
        currency="jpy",
        charge=charge,
        payment_intent=intent,
        status="needs_response",
    )
    await deliver(api_url, event("charge.dispute.created", dispute))

    booking = (await customer.client.data(PAYMENT, {"id": gid}))["booking"]
    assert booking["status"] == "CONFIRMED"
    payment = booking["payment"]
    assert (payment["status"], payment["refundedAmount"]) == ("SUCCEEDED", 1000)
    assert payment["refunds"] == [{"reason": f"stripe_{refund['id']}", "amount": 1000}]
    assert payment["dispute"] == "needs_response"

    [totals] = (await specialist.client.data(EARNINGS))["myEarnings"]
    assert totals == {
        "currency": "jpy",
        "gross": 4500,
        "platformFees": 0,
        "refunds": 1000,
        "disputes": 500,
        "net": 3000,
        "payouts": 0,
        "entries": 3,
    }
    entries = (await specialist.client.data(LEDGER))["myLedger"]
    assert entries["totalCount"] == 3
    found = sorted((e["kind"], e["amount"], e["stripeId"]) for e in entries["nodes"])
    assert found == sorted(
        [
            ("CHARGE", 4500, charge),
            ("REFUND", -1000, refund["id"]),
            ("DISPUTE", -500, dispute["id"]),
        ]
    )
    assert sum(e["amount"] for e in entries["nodes"]) == totals["net"]
    assert {e["bookingId"] for e in entries["nodes"]} == {gid}


async def test_only_specialists_see_earnings_and_only_admins_the_platforms(api_url: str) -> None:
    specialist, customer, _, _, _ = await paid_booking(api_url)
    refused = await customer.client.execute(EARNINGS)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    refused = await specialist.client.execute(PLATFORM)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    admin = await register(GraphQLClient(api_url))
    await User.find_one(User.id == user_id(admin)).update(
        {"$set": {"roles": [Role.CUSTOMER.value, Role.ADMIN.value]}}
    )
    totals = (await admin.client.data(PLATFORM))["platformEarnings"]
    jpy = next(t for t in totals if t["currency"] == "jpy")
    assert jpy["gross"] >= 4500 and jpy["net"] == (
        jpy["gross"] - jpy["platformFees"] - jpy["refunds"] - jpy["disputes"]
    )
