"""The earnings ledger: random sequences of charges (with platform fees), partial refunds,
fee refunds and disputes, delivered with duplicates and in any order, always sum up to
the totals the money movements make, in integer minor units of each currency."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from beanie import PydanticObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specialistly.runtime import Runtime
from specialistly_stripe import ledger, reactions, records
from specialistly_stripe.ledger import EntryKind, LedgerEntry
from specialistly_stripe.settings import StripeSettings
from tests.stripe_events import event, fixture

pytestmark = pytest.mark.usefixtures("runtime")

# Zero-, two- and three-decimal currencies: amounts are minor units whatever the exponent.
CURRENCIES = ("jpy", "eur", "kwd")
NO_API = StripeSettings(secret_key=None)  # every event below carries what it needs


@dataclass
class Charge:
    currency: str
    amount: int
    fee: int
    refunds: list[int]
    fee_refund: int
    dispute: tuple[int, bool] | None  # amount, won
    ids: dict[str, str] = field(default_factory=dict)

    def id(self, kind: str) -> str:
        return self.ids.setdefault(kind, f"{kind}_{secrets.token_hex(8)}")


@st.composite
def charges(draw: st.DrawFn) -> Charge:
    amount = draw(st.integers(1, 2_000_000))
    fee = draw(st.integers(0, amount // 5))
    left, refunds = amount, []
    for _ in range(draw(st.integers(0, 3))):
        if left == 0:
            break
        part = draw(st.integers(1, left))
        refunds.append(part)
        left -= part
    fee_refund = draw(st.integers(0, fee)) if refunds else 0
    dispute = None
    if draw(st.booleans()):
        dispute = (draw(st.integers(1, amount)), draw(st.booleans()))
    currency = draw(st.sampled_from(CURRENCIES))
    return Charge(currency, amount, fee, refunds, fee_refund, dispute)


def events_of(charge: Charge, booking_id: str) -> list[dict[str, Any]]:
    """The webhook events Stripe would send for the charge's life."""
    intent, charge_id = charge.id("pi"), charge.id("ch")
    common = {"currency": charge.currency, "application_fee_amount": charge.fee or None}
    sent = [
        event(
            "payment_intent.succeeded",
            fixture(
                "payment_intent",
                id=intent,
                amount=charge.amount,
                amount_received=charge.amount,
                latest_charge=charge_id,
                status="succeeded",
                metadata={"booking_id": booking_id},
                **common,
            ),
        )
    ]
    made: list[dict[str, Any]] = []
    for i, amount in enumerate(charge.refunds):
        made.append(
            fixture(
                "refund",
                id=charge.id(f"re{i}"),
                amount=amount,
                currency=charge.currency,
                status="succeeded",
                metadata={},
                payment_intent=intent,
                charge=charge_id,
            )
        )
        # Each charge.refunded lists every refund so far.
        listed = {"object": "list", "data": list(made), "has_more": False}
        sent.append(
            event(
                "charge.refunded",
                fixture(
                    "charge",
                    id=charge_id,
                    amount=charge.amount,
                    payment_intent=intent,
                    refunds=listed,
                    **common,
                ),
            )
        )
    if charge.fee_refund:
        fee_refund = {"id": charge.id("fr"), "amount": charge.fee_refund, "created": 1}
        application_fee = {
            "id": charge.id("fee"),
            "object": "application_fee",
            "currency": charge.currency,
            "originating_transaction": charge_id,
            "refunds": {"object": "list", "data": [fee_refund], "has_more": False},
        }
        sent.append(event("application_fee.refunded", application_fee))
    if charge.dispute:
        amount, won = charge.dispute
        shape = {"id": charge.id("dp"), "amount": amount, "currency": charge.currency}
        opened = fixture("dispute", **shape, charge=charge_id, payment_intent=intent)
        sent.append(event("charge.dispute.created", {**opened, "status": "needs_response"}))
        sent.append(event("charge.dispute.closed", {**opened, "status": "won" if won else "lost"}))
    return sent


def expected(charges: list[Charge]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for c in charges:
        t = totals.setdefault(
            c.currency, {"gross": 0, "platform_fees": 0, "refunds": 0, "disputes": 0}
        )
        t["gross"] += c.amount
        t["platform_fees"] += c.fee - c.fee_refund
        t["refunds"] += sum(c.refunds)
        if c.dispute and not c.dispute[1]:
            t["disputes"] += c.dispute[0]
    for t in totals.values():
        t["net"] = t["gross"] - t["platform_fees"] - t["refunds"] - t["disputes"]
    return totals


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    made=st.lists(charges(), min_size=1, max_size=4),
    data=st.data(),
)
async def test_the_summary_is_the_sum_of_the_entries_whatever_the_deliveries(
    made: list[Charge], data: st.DataObject
) -> None:
    specialist = str(PydanticObjectId())
    deliveries: list[dict[str, Any]] = []
    for charge in made:
        booking_id = str(PydanticObjectId())  # no such booking: the ledger stands alone
        await records.remember(charge.id("pi"), booking_id, specialist)
        deliveries.extend(events_of(charge, booking_id))
    again = data.draw(st.lists(st.sampled_from(deliveries), max_size=len(deliveries)))
    queue = list(data.draw(st.permutations(deliveries + again)))
    while queue:
        delivered = queue.pop(0)
        try:
            await reactions.handle(delivered, NO_API)
        except reactions.NotYetKnownError:
            queue.append(delivered)  # Stripe delivers it again later

    entries = await LedgerEntry.find(LedgerEntry.specialist_id == specialist).to_list()
    summaries = await ledger.summary(specialist, None, None)
    want = expected(made)
    assert {s.currency for s in summaries} == set(want)
    for s in summaries:
        mine = [e for e in entries if e.currency == s.currency]
        assert s.net == sum(e.amount for e in mine if e.kind != EntryKind.PAYOUT)
        assert s.entries == len(mine)
        got = {
            "gross": s.gross,
            "platform_fees": s.platform_fees,
            "refunds": s.refunds,
            "disputes": s.disputes,
            "net": s.net,
        }
        assert got == want[s.currency]
    assert all(isinstance(e.amount, int) for e in entries)


async def test_an_event_of_an_unknown_payment_writes_no_entry(runtime: Runtime) -> None:
    stranger = fixture("charge", id=f"ch_{secrets.token_hex(6)}", payment_intent="pi_nobody")
    assert await reactions.handle(event("charge.refunded", stranger), NO_API) == "unknown"
    assert await LedgerEntry.find(LedgerEntry.stripe_id == stranger["id"]).count() == 0


async def test_a_period_counts_the_entries_that_occurred_in_it(runtime: Runtime) -> None:
    specialist = str(PydanticObjectId())
    days = [datetime(2030, 1, d, 12, tzinfo=UTC) for d in (1, 2, 3)]
    for i, day in enumerate(days):
        await ledger.record(
            LedgerEntry(
                specialist_id=specialist,
                kind=EntryKind.CHARGE,
                amount=100 * (i + 1),
                currency="eur",
                stripe_id=f"ch_{secrets.token_hex(6)}",
                occurred_at=day,
            )
        )
    [middle] = await ledger.summary(specialist, days[1], days[2])
    assert (middle.gross, middle.entries) == (200, 1)
    [from_second] = await ledger.summary(specialist, days[1], None)
    assert from_second.gross == 500
    assert await ledger.summary(specialist, None, days[0]) == []
