"""The payment path in-process, against stripe-mock: starting payments (and failing to),
cancelling them when the booking gives up, and refunds by the booking's own policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from beanie import PydanticObjectId

from specialistly.core import booking_changes, events, payments, reservations, sweeps
from specialistly.core.bookings import Booking, BookingStatus, PaymentStatus
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.events import Event
from specialistly.core.services import CancellationPolicy, Service
from specialistly.core.users import User
from specialistly.features import payments as payment_path
from specialistly.plugin_system.manager import ProviderSet
from specialistly.providers import PaymentRequest, ProviderError, Providers
from specialistly.runtime import Runtime
from specialistly_stripe.provider import StripeProvider
from specialistly_stripe.settings import StripeSettings
from tests.bookings_fixtures import HOLD, cells_of, day_at, make_service, make_user, request
from tests.deliveries import deliver_booking_events

pytestmark = pytest.mark.usefixtures("runtime")

STRIPE = "stripe"


async def paid_booking(
    runtime: Runtime, service: Service, customer: User | None = None, hour: int = 10
) -> Booking:
    customer = customer or await make_user()
    return await reservations.create_booking(
        customer,
        request(service, day_at(hour)),
        payment_hold=HOLD,
        start_payment=payment_path.payment_starter(runtime, customer),
    )


async def paid(booking: Booking) -> Booking:
    assert booking.payment is not None
    outcome = await payments.succeeded(str(booking.id), STRIPE, booking.payment.external_id)
    assert outcome == payments.Outcome.CONFIRMED
    found = await Booking.get(booking.id)
    assert found is not None
    return found


def happened(name: str, booking: Booking, **data: object) -> Event:
    return Event(
        name=name,
        subject=f"bookings:{booking.id}",
        data={"booking_id": str(booking.id), **data},
        occurred_at=booking.updated_at,
    )


async def reread(booking: Booking) -> Booking:
    found = await Booking.get(booking.id)
    assert found is not None
    return found


async def test_a_paid_booking_holds_a_payment_intent_for_its_price(runtime: Runtime) -> None:
    service = await make_service(price=12_345, currency="jpy")
    booking = await paid_booking(runtime, service)
    assert booking.status == BookingStatus.PENDING_PAYMENT
    payment = booking.payment
    assert payment is not None
    assert (payment.provider, payment.amount, payment.currency) == (STRIPE, 12_345, "jpy")
    assert payment.external_id.startswith("pi_") and payment.client_secret
    assert payment.publishable_key == "pk_test_specialistly"
    assert payment.status == PaymentStatus.PENDING


async def test_a_free_booking_never_reaches_the_provider(runtime: Runtime) -> None:
    async def must_not_run(booking: Booking) -> None:
        raise AssertionError("a free booking started a payment")

    customer = await make_user()
    booking = await reservations.create_booking(
        customer,
        request(await make_service(price=0), day_at(10)),
        payment_hold=HOLD,
        start_payment=must_not_run,  # type: ignore[arg-type]
    )
    assert booking.status == BookingStatus.CONFIRMED and booking.payment is None


async def test_stripe_unreachable_makes_no_booking_and_frees_the_slot(runtime: Runtime) -> None:
    dead = StripeSettings(secret_key="sk_test_x", api_base="http://127.0.0.1:9", timeout=2)
    unreachable = ProviderSet(
        video=runtime.providers.video,
        payment=Providers("payment", object, [StripeProvider(dead)]),
        email=runtime.providers.email,
    )
    broken = type("Broken", (), {"settings": runtime.settings, "providers": unreachable})()
    service = await make_service(price=5000)
    customer = await make_user()
    with pytest.raises(DomainError) as refused:
        await reservations.create_booking(
            customer,
            request(service, day_at(11)),
            payment_hold=HOLD,
            start_payment=payment_path.payment_starter(broken, customer),
        )
    assert [p.code for p in refused.value.problems] == [ErrorCode.PAYMENT_UNAVAILABLE]
    assert "nothing was booked" in str(refused.value)
    assert await Booking.find(Booking.service_id == service.id).count() == 0
    # The slot is free again: the next customer gets it.
    booking = await paid_booking(runtime, service, hour=11)
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert len(await cells_of(booking.id)) == 6


async def test_expiry_cancels_the_payment_and_a_late_success_is_refunded(
    runtime: Runtime,
) -> None:
    service = await make_service(price=5000)
    booking = await paid_booking(runtime, service)
    assert booking.hold_expires_at is not None
    assert booking.id in await sweeps.expire_holds(booking.hold_expires_at + timedelta(seconds=1))
    await payment_path.on_event(happened(events.BOOKING_EXPIRED, booking), runtime)
    expired = await reread(booking)
    assert expired.status == BookingStatus.EXPIRED
    assert expired.payment is not None and expired.payment.status == PaymentStatus.CANCELLED
    # Someone else takes the slot; then the first customer's payment succeeds anyway.
    rival = await paid_booking(runtime, service)
    assert rival.status == BookingStatus.PENDING_PAYMENT
    outcome = await payments.succeeded(str(booking.id), STRIPE, expired.payment.external_id)
    assert outcome == payments.Outcome.LATE
    late = await reread(booking)
    assert late.status == BookingStatus.EXPIRED  # never confirmed: its slot is someone else's
    [event] = [e for e in late.outbox if e.name == payments.PAYMENT_SUCCEEDED]
    assert event.data["late"] is True
    await payment_path.on_event(happened(event.name, booking, late=True), runtime)
    refunded = await reread(booking)
    assert refunded.payment is not None
    refund = refunded.payment.refunds[payments.REFUND_SLOT_RELEASED]
    assert refund.amount == 5000 and refund.external_id.startswith("re_")
    assert [e.data["reason"] for e in refunded.outbox if e.name == payments.PAYMENT_REFUNDED] == [
        payments.REFUND_SLOT_RELEASED
    ]


async def test_a_customer_cancelling_in_time_is_refunded_per_the_policy_booked(
    runtime: Runtime,
) -> None:
    policy = CancellationPolicy(cancel_minutes_before=60, refund_percent=50, late_refund_percent=0)
    service = await make_service(price=999, policy=policy)
    customer = await make_user()
    booking = await paid(await paid_booking(runtime, service, customer))
    # The specialist makes the policy stricter afterwards: the booking keeps its own.
    await service.set({"policy": CancellationPolicy(refund_percent=0).model_dump()})
    cancelled = await booking_changes.cancel(booking.id, customer)  # type: ignore[arg-type]
    [event] = [e for e in cancelled.outbox if e.name == events.BOOKING_CANCELLED]
    assert event.data["refund_percent"] == 50
    delivered = happened(event.name, booking, **event.data)
    await payment_path.on_event(delivered, runtime)
    await payment_path.on_event(delivered, runtime)  # delivered twice: refunded once
    after = await reread(booking)
    assert after.payment is not None
    assert after.payment.refunded == 499  # half of 999 minor units, rounded down
    assert list(after.payment.refunds) == [payments.REFUND_CANCELLATION]
    assert after.status == BookingStatus.CANCELLED  # only part of it came back


async def test_the_specialist_cancelling_refunds_in_full(runtime: Runtime) -> None:
    specialist_service = await make_service(price=2500, currency="kwd")
    booking = await paid(await paid_booking(runtime, specialist_service))
    specialist = await User.get(specialist_service.specialist_id)
    assert specialist is not None
    cancelled = await booking_changes.cancel(booking.id, specialist)  # type: ignore[arg-type]
    [event] = [e for e in cancelled.outbox if e.name == events.BOOKING_CANCELLED]
    await payment_path.on_event(happened(event.name, booking, **event.data), runtime)
    after = await reread(booking)
    assert after.payment is not None and after.payment.refunded == 2500
    assert after.status == BookingStatus.REFUNDED


async def test_a_failed_meeting_refunds_in_full_and_frees_the_time(runtime: Runtime) -> None:
    booking = await paid(await paid_booking(runtime, await make_service(price=4000)))
    failed = happened(events.MEETING_FAILED, booking, reason="no room")
    await payment_path.on_event(failed, runtime)
    after = await reread(booking)
    assert after.status == BookingStatus.REFUNDED
    assert after.payment is not None
    assert after.payment.refunds[payments.REFUND_MEETING_FAILED].amount == 4000
    assert await cells_of(booking.id) == []


async def test_an_unpaid_cancellation_cancels_the_payment_and_refunds_nothing(
    runtime: Runtime,
) -> None:
    customer = await make_user()
    booking = await paid_booking(runtime, await make_service(price=4000), customer)
    cancelled = await booking_changes.cancel(booking.id, customer)  # type: ignore[arg-type]
    [event] = [e for e in cancelled.outbox if e.name == events.BOOKING_CANCELLED]
    await payment_path.on_event(happened(event.name, booking, **event.data), runtime)
    after = await reread(booking)
    assert after.payment is not None
    assert after.payment.status == PaymentStatus.CANCELLED and after.payment.refunds == {}


async def test_reports_for_unknown_payments_change_nothing(runtime: Runtime) -> None:
    booking = await paid_booking(runtime, await make_service(price=4000))
    unknown = [
        (str(PydanticObjectId()), "pi_x"),
        ("not-an-id", "pi_x"),
        (str(booking.id), "pi_someone_elses"),
    ]
    for booking_id, intent in unknown:
        assert await payments.succeeded(booking_id, STRIPE, intent) == payments.Outcome.UNKNOWN
        assert await payments.failed(booking_id, STRIPE, intent, "x") == payments.Outcome.UNKNOWN
    assert (await reread(booking)).status == BookingStatus.PENDING_PAYMENT


async def test_without_a_secret_key_no_payment_starts() -> None:
    provider = StripeProvider(StripeSettings(publishable_key="pk_test_x"))
    with pytest.raises(ProviderError, match="not configured") as refused:
        await provider.create_payment(
            PaymentRequest("b", "s", 100, "usd", "c@example.com", "d", "booking-b-payment")
        )
    assert not refused.value.transient


async def test_a_payment_refunded_in_full_before_its_success_never_confirms(
    runtime: Runtime,
) -> None:
    """Stripe's events come in any order: the dashboard refund may be reported first."""
    booking = await paid_booking(runtime, await make_service(price=3000))
    assert booking.id is not None and booking.payment is not None
    refunded = await payments.refunded(booking.id, "stripe_re_1", 3000, "re_1", outside=True)
    assert refunded == payments.Outcome.RECORDED
    assert (await reread(booking)).status == BookingStatus.PENDING_PAYMENT
    outcome = await payments.succeeded(str(booking.id), STRIPE, booking.payment.external_id)
    assert outcome == payments.Outcome.RECORDED
    after = await reread(booking)
    assert (after.status, after.cancel_reason, after.cancelled_by) == (
        BookingStatus.CANCELLED,
        payments.CANCEL_REASON_REFUNDED,
        "platform",
    )
    assert await cells_of(booking.id) == []
    await deliver_booking_events(runtime, booking.id)
    [cancelled] = await Event.find(
        Event.subject == f"bookings:{booking.id}", Event.name == events.BOOKING_CANCELLED
    ).to_list()
    assert (cancelled.data["by"], cancelled.data["previous_status"]) == (
        "platform",
        BookingStatus.PENDING_PAYMENT.value,
    )
    assert cancelled.dispatched_at is not None  # every plugin took it without error
    delivered = await reread(booking)
    assert delivered.payment is not None and list(delivered.payment.refunds) == ["stripe_re_1"]
    assert delivered.payment.status == PaymentStatus.SUCCEEDED  # nothing more to cancel
