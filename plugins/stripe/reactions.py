"""What each Stripe event does: reports to the core (core/payments) and ledger entries.

Every reaction is idempotent and tolerates any order: the core's reports are, and ledger
entries are keyed by their Stripe object. A money movement is recorded from whichever
event tells of it first (a refund's charge is recorded from ``charge.refunded`` too, a
dispute from ``charge.dispute.closed`` too), so a late or lost event loses no entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from beanie import PydanticObjectId

from specialistly.core import payments
from specialistly.core.payments import Outcome
from specialistly_stripe import connect, records
from specialistly_stripe.client import stripe_client
from specialistly_stripe.ledger import EntryKind, LedgerEntry, record
from specialistly_stripe.records import StripePayment
from specialistly_stripe.settings import StripeSettings

PROVIDER = "stripe"

Reaction = Callable[[dict[str, Any], StripeSettings], Awaitable[Outcome]]


class NotYetKnownError(Exception):
    """The event is about a charge no earlier event told of: Stripe is to deliver it again
    later (it retries for days), by when the PaymentIntent's success has named the charge."""


def _when(obj: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(obj.get("created") or 0), UTC)


def _id(value: Any) -> str | None:
    """An id field that may be expanded into its object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


async def _entry(
    payment: StripePayment, kind: EntryKind, amount: int, obj: dict[str, Any], stripe_id: str
) -> None:
    await record(
        LedgerEntry(
            specialist_id=payment.specialist_id,
            booking_id=payment.booking_id,
            kind=kind,
            amount=amount,
            currency=str(obj["currency"]).lower(),
            stripe_id=stripe_id,
            occurred_at=_when(obj),
        )
    )


async def _charge_entries(payment: StripePayment, charge: dict[str, Any]) -> None:
    """The charge and the platform's fee on it."""
    await _entry(payment, EntryKind.CHARGE, int(charge["amount"]), charge, charge["id"])
    fee = int(charge.get("application_fee_amount") or 0)
    if fee:
        await _entry(payment, EntryKind.FEE, -fee, charge, charge["id"])


async def intent_succeeded(intent: dict[str, Any], settings: StripeSettings) -> Outcome:
    payment = await records.find(intent_id=intent["id"])
    if payment is None:
        return Outcome.UNKNOWN
    outcome = await payments.succeeded(payment.booking_id, PROVIDER, intent["id"])
    charge_id = _id(intent.get("latest_charge")) or intent["id"]
    await records.note_charge(intent["id"], charge_id)
    charge = {
        "id": charge_id,
        "amount": intent.get("amount_received") or intent["amount"],
        "currency": intent["currency"],
        "created": intent.get("created"),
        "application_fee_amount": intent.get("application_fee_amount"),
    }
    await _charge_entries(payment, charge)
    return outcome


async def intent_failed(intent: dict[str, Any], settings: StripeSettings) -> Outcome:
    payment = await records.find(intent_id=intent["id"])
    if payment is None:
        return Outcome.UNKNOWN
    error = intent.get("last_payment_error") or {}
    reason = error.get("message") or error.get("code") or "The payment failed."
    return await payments.failed(payment.booking_id, PROVIDER, intent["id"], str(reason))


async def charge_refunded(charge: dict[str, Any], settings: StripeSettings) -> Outcome:
    """Refunds made anywhere (by the platform, or in Stripe's dashboard: a confirmed booking
    refunded there in full is cancelled). The charge lists them in older API versions;
    otherwise (or when the list is cut short) Stripe is asked."""
    intent_id = _id(charge.get("payment_intent"))
    payment = await records.find(intent_id=intent_id, charge_id=charge["id"])
    if payment is None:
        return Outcome.UNKNOWN
    await _charge_entries(payment, charge)
    listed = charge.get("refunds")
    if isinstance(listed, dict) and "data" in listed and not listed.get("has_more"):
        refunds: list[dict[str, Any]] = listed["data"]
    else:
        refunds = await _refunds_of(payment.intent_id, settings)
    booking_id = PydanticObjectId(payment.booking_id)
    for refund in refunds:
        if refund.get("status") not in ("succeeded", "pending"):
            continue
        ours = (refund.get("metadata") or {}).get("reason")
        reason = ours or f"stripe_{refund['id']}"  # made outside the platform
        amount = int(refund["amount"])
        await payments.refunded(booking_id, reason, amount, refund["id"], outside=not ours)
        await _entry(payment, EntryKind.REFUND, -amount, refund, refund["id"])
    return Outcome.RECORDED


async def _refunds_of(intent_id: str, settings: StripeSettings) -> list[dict[str, Any]]:
    client = stripe_client(settings)
    listed = await client.v1.refunds.list_async({"payment_intent": intent_id, "limit": 100})
    return [refund.to_dict() for refund in listed.data]


async def fee_refunded(fee: dict[str, Any], settings: StripeSettings) -> Outcome:
    """The platform gave back (part of) its fee with a refund: the specialist's again."""
    charge_id = _id(fee.get("originating_transaction")) or _id(fee.get("charge"))
    payment = await records.find(charge_id=charge_id)
    if payment is None:
        # Application fees exist only on the platform's own charges: this one is ours.
        raise NotYetKnownError(f"charge {charge_id} of application fee {fee.get('id')}")
    for fee_refund in (fee.get("refunds") or {}).get("data") or []:
        currency = fee_refund.get("currency") or fee["currency"]
        obj = {"currency": currency, "created": fee_refund.get("created")}
        await _entry(payment, EntryKind.FEE, int(fee_refund["amount"]), obj, fee_refund["id"])
    return Outcome.RECORDED


async def _dispute_payment(dispute: dict[str, Any]) -> StripePayment | None:
    return await records.find(
        intent_id=_id(dispute.get("payment_intent")), charge_id=_id(dispute.get("charge"))
    )


async def dispute_created(dispute: dict[str, Any], settings: StripeSettings) -> Outcome:
    payment = await _dispute_payment(dispute)
    if payment is None:
        return Outcome.UNKNOWN
    await _entry(payment, EntryKind.DISPUTE, -int(dispute["amount"]), dispute, dispute["id"])
    return await payments.disputed(PydanticObjectId(payment.booking_id), dispute["status"])


async def dispute_closed(dispute: dict[str, Any], settings: StripeSettings) -> Outcome:
    payment = await _dispute_payment(dispute)
    if payment is None:
        return Outcome.UNKNOWN
    amount = int(dispute["amount"])
    await _entry(payment, EntryKind.DISPUTE, -amount, dispute, dispute["id"])
    if dispute["status"] == "won":
        await _entry(payment, EntryKind.DISPUTE_WON, amount, dispute, dispute["id"])
    return await payments.disputed(PydanticObjectId(payment.booking_id), dispute["status"])


async def account_updated(account: dict[str, Any], settings: StripeSettings) -> Outcome:
    known = await connect.account_updated(account)
    return Outcome.RECORDED if known else Outcome.UNKNOWN


async def payout_paid(payout: dict[str, Any], account_id: str | None) -> Outcome:
    """Money sent from a connected account to its specialist's bank."""
    account = await connect.StripeAccount.find_one(
        connect.StripeAccount.account_id == (account_id or "")
    )
    if account is None:
        return Outcome.UNKNOWN
    entry = LedgerEntry(
        specialist_id=account.specialist_id,
        kind=EntryKind.PAYOUT,
        amount=-int(payout["amount"]),
        currency=str(payout["currency"]).lower(),
        stripe_id=payout["id"],
        occurred_at=_when(payout),
    )
    return Outcome.RECORDED if await record(entry) else Outcome.IGNORED


REACTIONS: dict[str, Reaction] = {
    "account.updated": account_updated,
    "payment_intent.succeeded": intent_succeeded,
    "payment_intent.payment_failed": intent_failed,
    "charge.refunded": charge_refunded,
    "application_fee.refunded": fee_refunded,
    "charge.dispute.created": dispute_created,
    "charge.dispute.closed": dispute_closed,
}


async def handle(event: dict[str, Any], settings: StripeSettings) -> Outcome:
    """Report one event; what it did."""
    if event["type"] == "payout.paid":  # Connect events name their account
        return await payout_paid(event["data"]["object"], event.get("account"))
    reaction = REACTIONS.get(event["type"])
    if reaction is None:
        return Outcome.IGNORED
    return await reaction(event["data"]["object"], settings)
