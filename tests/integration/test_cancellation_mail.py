"""The cancellation email tells the refund actually made, in the payment's currency, once
the payment provider has made it; nothing about a refund when nothing was paid."""

from __future__ import annotations

from specialistly.core import booking_changes, payments, reservations
from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.services import CancellationPolicy, Service
from specialistly.core.users import User
from specialistly.features import payments as payment_path
from specialistly.runtime import Runtime
from tests.bookings_fixtures import HOLD, book, day_at, make_service, make_user, request
from tests.deliveries import deliver_booking_events
from tests.mail import MailSink, Received


async def paid_booking(runtime: Runtime, service: Service, customer: User) -> Booking:
    booking = await reservations.create_booking(
        customer,
        request(service, day_at(10)),
        payment_hold=HOLD,
        start_payment=payment_path.payment_starter(runtime, customer),
    )
    assert booking.payment is not None
    outcome = await payments.succeeded(
        str(booking.id), booking.payment.provider, booking.payment.external_id
    )
    assert outcome == payments.Outcome.CONFIRMED
    await deliver_booking_events(runtime, booking.id)
    return booking


def cancellation(mailbox: MailSink, user: User) -> Received:
    [cancelled] = [m for m in mailbox.to(user.email) if m.subject.startswith("Cancelled:")]
    return cancelled


async def test_a_cancelled_paid_booking_tells_the_refund_made(
    runtime: Runtime, mailbox: MailSink
) -> None:
    customer = await make_user()
    policy = CancellationPolicy(cancel_minutes_before=60, refund_percent=50)
    service = await make_service(price=5001, currency="jpy", policy=policy)
    booking = await paid_booking(runtime, service, customer)

    await booking_changes.cancel(str(booking.id), customer, "Clash")
    await deliver_booking_events(runtime, booking.id)

    refunded = await Booking.get(booking.id)
    assert refunded is not None and refunded.payment is not None
    assert refunded.payment.refunded == 2500  # half, rounded down
    to_customer = cancellation(mailbox, customer)
    assert "2500 JPY of the 5001 JPY you paid is refunded to you." in to_customer.text()
    assert "2500 JPY of the 5001 JPY you paid is refunded to you." in to_customer.html()
    specialist = await User.get(service.specialist_id)
    assert specialist is not None
    to_specialist = cancellation(mailbox, specialist)
    assert "2500 JPY of the 5001 JPY the customer paid is refunded to them." in (
        to_specialist.text()
    )


async def test_a_full_refund_is_told_in_the_currencys_own_decimals(
    runtime: Runtime, mailbox: MailSink
) -> None:
    customer = await make_user()
    service = await make_service(price=12_345, currency="eur")
    booking = await paid_booking(runtime, service, customer)

    await booking_changes.cancel(str(booking.id), customer)
    await deliver_booking_events(runtime, booking.id)

    after = await Booking.get(booking.id)
    assert after is not None and after.status == BookingStatus.REFUNDED
    text = cancellation(mailbox, customer).text()
    assert "123.45 EUR of the 123.45 EUR you paid is refunded to you." in text
    assert "%" not in text


async def test_nothing_paid_means_no_refund_line(runtime: Runtime, mailbox: MailSink) -> None:
    customer = await make_user()
    free = await book(customer, await make_service(), day_at(10))
    await deliver_booking_events(runtime, free.id)
    unpaid_customer = await make_user()
    paid_service = await make_service(price=5000, currency="eur")
    unpaid = await reservations.create_booking(
        unpaid_customer,
        request(paid_service, day_at(10)),
        payment_hold=HOLD,
        start_payment=payment_path.payment_starter(runtime, unpaid_customer),
    )

    for booking, user in ((free, customer), (unpaid, unpaid_customer)):
        await booking_changes.cancel(str(booking.id), user)
        await deliver_booking_events(runtime, booking.id)
        text = cancellation(mailbox, user).text()
        assert "refund" not in text.lower()
