"""The payment path every payment provider shares (a built-in plugin).

A paid booking's payment is started while its time is claimed (``payment_starter``); the
provider's reports then confirm it (core/payments). Here, on the booking's later events:
a booking that gives up waiting (expired, cancelled unpaid) cancels its payment; a
cancellation refunds the share its event names; ``meeting.failed`` and a payment that
arrived after the time was released are refunded in full. Refunds go through the provider
with a key per booking and reason, so a redelivered event never refunds twice.
"""

from __future__ import annotations

import logging

from beanie import PydanticObjectId

from specialistly.core import events, payments
from specialistly.core.bookings import Booking, BookingPayment, BookingStatus, PaymentStatus
from specialistly.core.catalog import PayoutProblem
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.events import Event
from specialistly.core.reservations import StartPayment
from specialistly.core.users import User
from specialistly.features import booking_reads
from specialistly.hookspecs import PluginRuntime, hookimpl
from specialistly.providers import (
    PaymentProvider,
    PaymentRequest,
    ProviderError,
    RefundRequest,
    UnknownProviderError,
)

log = logging.getLogger("specialistly.features.payments")


def _unavailable() -> DomainError:
    return DomainError.of(
        ErrorCode.PAYMENT_UNAVAILABLE,
        "The payment could not be started, so nothing was booked; please try again.",
    )


def payment_starter(runtime: PluginRuntime, customer: User) -> StartPayment:
    """Starts the payment of the customer's booking with the platform's payment provider;
    PAYMENT_UNAVAILABLE (and no booking) when the provider cannot be reached."""

    async def start(booking: Booking) -> BookingPayment:
        try:
            provider = runtime.providers.payment[runtime.settings.payment_provider]
        except UnknownProviderError:
            log.error("no payment provider %r", runtime.settings.payment_provider)
            raise _unavailable() from None
        request = PaymentRequest(
            booking_id=str(booking.id),
            specialist_id=str(booking.specialist_id),
            amount=booking.price,
            currency=booking.currency,
            customer_email=customer.email,
            description=f"Booking {booking.id}",
            idempotency_key=f"booking-{booking.id}-payment",
        )
        try:
            session = await provider.create_payment(request)
        except ProviderError as exc:
            log.warning("payment for booking %s not started: %s", booking.id, exc)
            raise _unavailable() from exc
        return BookingPayment(
            provider=provider.name,
            external_id=session.external_id,
            amount=booking.price,
            currency=booking.currency,
            client_secret=session.client_secret,
            publishable_key=session.publishable_key,
        )

    return start


def payout_problem(runtime: PluginRuntime) -> PayoutProblem:
    """Asks the platform's payment provider whether a specialist can be paid yet."""

    async def problem(specialist_id: PydanticObjectId) -> str | None:
        try:
            provider = runtime.providers.payment[runtime.settings.payment_provider]
        except UnknownProviderError:
            return "Payments are not set up on this platform."
        return await provider.payout_problem(str(specialist_id))

    return problem


@hookimpl
async def on_event(event: Event, runtime: PluginRuntime) -> None:
    booking_id = event.data.get("booking_id")
    if not _reacts_to(event) or not PydanticObjectId.is_valid(booking_id):
        return  # without reading the booking: most events are none of a payment's business
    booking = await booking_reads.booking(PydanticObjectId(booking_id))
    if booking is None or booking.payment is None:
        return
    if event.name == events.BOOKING_EXPIRED:
        await _cancel(booking, runtime)
    elif event.name == events.BOOKING_CANCELLED:
        if event.data.get("previous_status") == BookingStatus.PENDING_PAYMENT.value:
            await _cancel(booking, runtime)
        share = int(event.data.get("refund_percent") or 0)
        await _refund(booking, runtime, payments.REFUND_CANCELLATION, share)
    elif event.name == events.MEETING_FAILED:
        await _refund(booking, runtime, payments.REFUND_MEETING_FAILED, 100)
    elif event.name == payments.PAYMENT_SUCCEEDED:
        await _refund(booking, runtime, payments.REFUND_SLOT_RELEASED, 100)


def _reacts_to(event: Event) -> bool:
    if event.name == payments.PAYMENT_SUCCEEDED:
        return bool(event.data.get("late"))  # paid after its time was released
    return event.name in (events.BOOKING_EXPIRED, events.BOOKING_CANCELLED, events.MEETING_FAILED)


def _provider(runtime: PluginRuntime, payment: BookingPayment) -> PaymentProvider:
    provider: PaymentProvider = runtime.providers.payment[payment.provider]
    return provider


async def _cancel(booking: Booking, runtime: PluginRuntime) -> None:
    payment = booking.payment
    assert payment is not None and booking.id is not None
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        return
    await _provider(runtime, payment).cancel_payment(payment.external_id)
    await payments.cancelled(booking.id)


async def _refund(booking: Booking, runtime: PluginRuntime, reason: str, percent: int) -> None:
    """Refund `percent` of the price (in whole minor units, rounded down), once per reason."""
    payment = booking.payment
    assert payment is not None and booking.id is not None
    amount = payments.refund_owed(payment, reason, percent)
    if amount <= 0:
        return
    request = RefundRequest(
        external_id=payment.external_id,
        amount=amount,
        reason=reason,
        idempotency_key=f"booking-{booking.id}-refund-{reason}",
    )
    refund_id = await _provider(runtime, payment).refund(request)
    await payments.refunded(booking.id, reason, amount, refund_id)
