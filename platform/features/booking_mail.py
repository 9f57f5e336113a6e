"""What a booking's emails say: the facts of the booking and the values a template sees.

Times are shown in the recipient's own time zone: the customer's as given when booking,
the specialist's from their profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from specialistly.core import read_cache
from specialistly.core.bookings import Booking, PaymentStatus
from specialistly.core.clock import as_utc
from specialistly.core.events import BOOKING_CANCELLED, BOOKING_RESCHEDULED, Event
from specialistly.core.payments import REFUND_CANCELLATION
from specialistly.core.users import User
from specialistly.features.invites import Invitation
from specialistly.features.money import money
from specialistly.settings import Settings


@dataclass(frozen=True)
class BookingFacts:
    booking: Booking
    event: Event
    service_title: str
    customer: User | None
    specialist: User | None
    specialist_timezone: str
    frontend_url: str

    def values_for(self, party: str) -> dict[str, Any]:
        """The values of a template sent to one party ("customer" or "specialist")."""
        b, data = self.booking, self.event.data
        tz = b.customer_timezone if party == "customer" else self.specialist_timezone
        other = self.specialist if party == "customer" else self.customer
        me = self.customer if party == "customer" else self.specialist
        meeting = b.meeting
        booking_url = f"{self.frontend_url}/bookings/{b.id}"
        previous = data.get("previous_start")
        return {
            "party": party,
            "recipient_name": me.display_name if me else "",
            "other_party_name": other.display_name if other else "",
            "customer_name": self.customer.display_name if self.customer else "",
            "specialist_name": self.specialist.display_name if self.specialist else "",
            "service_title": self.service_title,
            "timezone": tz,
            "start_local": local_time(b.start, tz),
            "end_local": local_time(b.end, tz, with_date=False),
            "previous_start_local": local_time(_instant(previous), tz) if previous else None,
            "notes": b.notes,
            "join_url": meeting.join_url if meeting else None,
            "host_url": (meeting.host_url or meeting.join_url) if meeting else None,
            "meeting_error": b.meeting_error,
            "failure_reason": data.get("reason"),
            "booking_url": booking_url,
            "review_url": f"{booking_url}/review",
            "recording_url": data.get("recording_url") or f"{booking_url}/recording",
            "cancelled_by": data.get("by"),
            "cancel_reason": data.get("reason") or None,
            "refund": _refund(b),
            "paid": _paid(b),
            "price": money(b.price, b.currency),
        }


async def booking_facts(booking: Booking, event: Event, settings: Settings) -> BookingFacts:
    service = await read_cache.service(booking.service_id)
    profile = await read_cache.profile(booking.specialist_id)
    return BookingFacts(
        booking=booking,
        event=event,
        service_title=service.title if service else "Consultation",
        customer=await read_cache.user(booking.customer_id),
        specialist=await read_cache.user(booking.specialist_id),
        specialist_timezone=profile.timezone if profile else "UTC",
        frontend_url=settings.frontend_url.rstrip("/"),
    )


async def moves_until(event: Event, booking: Booking) -> int:
    """How many times the event's booking was rescheduled, up to the event: the sequence
    of the calendar invitation it sends. Counted only for a booking that was moved."""
    if booking.moves == 0:
        return 0  # never, so not before the event either
    # One flat filter: FerretDB pushes down the equalities (not Beanie's `$and`).
    return await Event.find(
        {
            "subject": event.subject,
            "name": BOOKING_RESCHEDULED,
            "occurred_at": {"$lte": event.occurred_at},
        }
    ).count()


def invitation(
    facts: BookingFacts, attendee: User, organizer: str, event: Event, moves: int
) -> Invitation:
    b = facts.booking
    meeting = b.meeting
    other = facts.specialist if attendee.id == b.customer_id else facts.customer
    with_whom = f" with {other.display_name}" if other else ""
    return Invitation(
        booking_id=str(b.id),
        summary=f"{facts.service_title}{with_whom}",
        start=b.start,
        end=b.end,
        organizer=organizer,
        attendee=attendee.email,
        location=meeting.join_url if meeting else None,
        description=f"{facts.frontend_url}/bookings/{b.id}",
        changed_at=event.occurred_at,
        sequence=moves + (1 if event.name == BOOKING_CANCELLED else 0),
        cancelled=event.name == BOOKING_CANCELLED,
    )


def local_time(instant: datetime, tz: str, *, with_date: bool = True) -> str:
    """e.g. "Monday 7 December 2026, 10:00 (Europe/Berlin)", or "11:00" without the date."""
    local = as_utc(instant).astimezone(ZoneInfo(tz))
    if not with_date:
        return f"{local:%H:%M}"
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({tz})"


def _refund(booking: Booking) -> str | None:
    """The refund made for the booking's cancellation, as recorded; None if none was."""
    payment = booking.payment
    refund = payment.refunds.get(REFUND_CANCELLATION) if payment else None
    if payment is None or refund is None:
        return None
    return money(refund.amount, payment.currency)


def _paid(booking: Booking) -> str | None:
    payment = booking.payment
    if payment is None or payment.status != PaymentStatus.SUCCEEDED:
        return None
    return money(payment.amount, payment.currency)


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
