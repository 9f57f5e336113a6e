"""What a payment provider reports about a booking's payment, and the refunds made for it.

A provider's plugin translates its own notices (Stripe's webhooks, for example) into these
calls; each is safe to repeat and to receive in any order, and answers what it did. A
payment that arrives after its booking stopped holding the time never confirms it: it is
recorded and announced with ``late``, and refunded in full (see features/payments).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import PydanticObjectId

from specialistly.core import events
from specialistly.core.bookings import (
    Booking,
    BookingPayment,
    BookingStatus,
    Party,
    PaymentRefund,
    PaymentStatus,
    booking_event,
    booking_lock,
    release_time,
    transition,
    update_booking,
)
from specialistly.core.clock import utcnow

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"
PAYMENT_DISPUTED = "payment.disputed"

# Refund reasons (one refund per booking and reason).
REFUND_CANCELLATION = "cancellation"
REFUND_MEETING_FAILED = "meeting_failed"
REFUND_SLOT_RELEASED = "slot_released"  # paid after the booking gave its time back

# Why the platform cancels a confirmed booking refunded in full in the provider's dashboard.
CANCEL_REASON_REFUNDED = "refunded"

# Statuses a fully refunded booking may move to REFUNDED from.
_REFUNDABLE = frozenset(
    {
        BookingStatus.CONFIRMED,
        BookingStatus.COMPLETED,
        BookingStatus.CANCELLED,
        BookingStatus.NO_SHOW,
    }
)


def refund_owed(payment: BookingPayment, reason: str, percent: int) -> int:
    """What a refund of `percent` of the price for `reason` still owes the customer, in
    whole minor units rounded down: nothing unless paid, nor twice for one reason."""
    if payment.status != PaymentStatus.SUCCEEDED or reason in payment.refunds:
        return 0
    return max(0, min(payment.amount * percent // 100, payment.amount - payment.refunded))


class Outcome(StrEnum):
    """What a report did, for the provider's own record of it."""

    CONFIRMED = "confirmed"
    LATE = "late"  # paid after the time was released: to be refunded in full
    RECORDED = "recorded"
    IGNORED = "ignored"  # already known, or no longer relevant
    UNKNOWN = "unknown"  # no booking has this payment


@asynccontextmanager
async def _locked_payment(
    booking_id: PydanticObjectId | str, paid_with: tuple[str, str] | None = None
) -> AsyncIterator[tuple[Booking, BookingPayment] | None]:
    """Be the booking's one writer in the block, with the booking and its payment as read
    inside the lock; None if there is no such booking or payment, or (given `paid_with`)
    its payment is not that (provider, external id)."""
    if isinstance(booking_id, str):
        if not PydanticObjectId.is_valid(booking_id):
            yield None
            return
        booking_id = PydanticObjectId(booking_id)
    async with booking_lock(booking_id):
        booking = await Booking.get(booking_id)
        payment = booking.payment if booking else None
        if booking is None or payment is None:
            yield None
        else:
            matches = paid_with in (None, (payment.provider, payment.external_id))
            yield (booking, payment) if matches else None


def _payment_event(
    name: str, booking: Booking, payment: BookingPayment, **data: Any
) -> dict[str, Any]:
    return booking_event(name, booking, amount=payment.amount, currency=payment.currency, **data)


async def succeeded(
    booking_id: str, provider: str, external_id: str, *, now: datetime | None = None
) -> Outcome:
    """The customer paid: PENDING_PAYMENT -> CONFIRMED. A booking that no longer holds
    its time (expired, cancelled) is not confirmed: the payment is recorded as LATE. Nor is
    one whose payment was refunded in full before its success was reported (events come
    in any order): the platform cancels it."""
    now = now or utcnow()
    async with _locked_payment(booking_id, (provider, external_id)) as found:
        if found is None:
            return Outcome.UNKNOWN
        booking, payment = found
        if payment.status == PaymentStatus.SUCCEEDED:
            return Outcome.IGNORED
        paid = {"payment.status": PaymentStatus.SUCCEEDED.value, "payment.failure": None}
        given_back = payment.refunded >= payment.amount
        if booking.status == BookingStatus.PENDING_PAYMENT and given_back:
            event, cancelled = _cancelled_by_platform(booking, now)
            await transition(
                booking,
                BookingStatus.CANCELLED,
                now,
                [event],
                hold_expires_at=None,
                quota_places=[],
                **cancelled,
                **paid,
            )
            await release_time(booking)
            return Outcome.RECORDED
        if booking.status == BookingStatus.PENDING_PAYMENT:
            outbox = [
                _payment_event(PAYMENT_SUCCEEDED, booking, payment, late=False),
                booking_event(events.BOOKING_CONFIRMED, booking),
            ]
            await transition(
                booking, BookingStatus.CONFIRMED, now, outbox, hold_expires_at=None, **paid
            )
            return Outcome.CONFIRMED
        late = _payment_event(PAYMENT_SUCCEEDED, booking, payment, late=True)
        await update_booking(
            booking, {"$set": {**paid, "updated_at": now}, "$push": {"outbox": late}}
        )
        return Outcome.LATE


async def failed(booking_id: str, provider: str, external_id: str, reason: str) -> Outcome:
    """An attempt to pay failed; the booking keeps its hold, so the customer may try
    again with the same payment until it runs out."""
    async with _locked_payment(booking_id, (provider, external_id)) as found:
        if found is None:
            return Outcome.UNKNOWN
        booking, payment = found
        waiting = (PaymentStatus.PENDING, PaymentStatus.FAILED)
        if booking.status != BookingStatus.PENDING_PAYMENT or payment.status not in waiting:
            return Outcome.IGNORED  # paid or given up meanwhile: a late failure changes nothing
        event = _payment_event(PAYMENT_FAILED, booking, payment, reason=reason[:500])
        await update_booking(
            booking,
            {
                "$set": {
                    "payment.status": PaymentStatus.FAILED.value,
                    "payment.failure": reason[:500],
                    "updated_at": utcnow(),
                },
                "$push": {"outbox": event},
            },
        )
        return Outcome.RECORDED


async def cancelled(booking_id: PydanticObjectId) -> Outcome:
    """The provider stopped waiting for the payment of a booking that gave up on it."""
    async with _locked_payment(booking_id) as found:
        if found is None:
            return Outcome.UNKNOWN
        booking, payment = found
        if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
            return Outcome.IGNORED
        await update_booking(booking, {"$set": {"payment.status": PaymentStatus.CANCELLED.value}})
        return Outcome.RECORDED


async def refunded(
    booking_id: PydanticObjectId,
    reason: str,
    amount: int,
    external_id: str,
    *,
    outside: bool = False,
    now: datetime | None = None,
) -> Outcome:
    """Record a refund made for `reason` (once); a booking refunded in full becomes
    REFUNDED, giving back its time if it still held it. A confirmed booking refunded in
    full `outside` the platform (in the provider's dashboard) is also cancelled by the
    platform, so that its meeting is deleted and its parties are told."""
    now = now or utcnow()
    async with _locked_payment(booking_id) as found:
        if found is None:
            return Outcome.UNKNOWN
        booking, payment = found
        known = {refund.external_id for refund in payment.refunds.values()}
        if reason in payment.refunds or external_id in known:
            return Outcome.IGNORED
        refund = PaymentRefund(amount=amount, external_id=external_id, created_at=now)
        event = _payment_event(PAYMENT_REFUNDED, booking, payment, refunded=amount, reason=reason)
        changes: dict[str, Any] = {
            f"payment.refunds.{reason}": refund.model_dump(),
            "updated_at": now,
        }
        in_full = payment.refunded + amount >= payment.amount
        if in_full and booking.status in _REFUNDABLE:
            outbox = [event]
            if booking.status == BookingStatus.CONFIRMED:
                changes["quota_places"] = []
                if outside:
                    cancellation, cancelled = _cancelled_by_platform(booking, now)
                    outbox.append(cancellation)
                    changes |= cancelled
            await transition(booking, BookingStatus.REFUNDED, now, outbox, **changes)
            if booking.status == BookingStatus.CONFIRMED:
                await release_time(booking)
        else:
            await update_booking(booking, {"$set": changes, "$push": {"outbox": event}})
        return Outcome.RECORDED


def _cancelled_by_platform(
    booking: Booking, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event and the fields of cancelling a booking whose payment was given back in
    full outside the platform."""
    event = booking_event(
        events.BOOKING_CANCELLED,
        booking,
        by=Party.PLATFORM.value,
        reason=CANCEL_REASON_REFUNDED,
        previous_status=booking.status.value,
        refund_percent=100,
    )
    fields = {
        "cancelled_at": now,
        "cancel_reason": CANCEL_REASON_REFUNDED,
        "cancelled_by": Party.PLATFORM.value,
    }
    return event, fields


async def disputed(booking_id: PydanticObjectId, status: str) -> Outcome:
    """The customer disputed the payment (or the dispute moved on): marked on the booking."""
    async with _locked_payment(booking_id) as found:
        if found is None:
            return Outcome.UNKNOWN
        booking, payment = found
        if payment.dispute == status:
            return Outcome.IGNORED
        event = _payment_event(PAYMENT_DISPUTED, booking, payment, dispute=status)
        changes = {"payment.dispute": status, "updated_at": utcnow()}
        await update_booking(booking, {"$set": changes, "$push": {"outbox": event}})
        return Outcome.RECORDED
