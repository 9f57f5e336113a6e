"""Specialists, services and availability written straight to the database, for the
booking tests (independent of the catalog's mutations)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId

from specialistly.core import reservations
from specialistly.core.availability import Availability, HoursRange, WeeklyHours
from specialistly.core.bookings import Booking, SlotClaim
from specialistly.core.clock import utcnow
from specialistly.core.reservations import BookingRequest
from specialistly.core.services import Service, ServiceStatus
from specialistly.core.users import Role, User

HOLD = timedelta(minutes=15)
ALL_DAY = [WeeklyHours(weekday=d, ranges=[HoursRange(start=0, end=24 * 60)]) for d in range(7)]


async def make_user(role: Role = Role.CUSTOMER) -> User:
    email = f"{role.value}-{secrets.token_hex(6)}@example.com"
    user = User(email=email, email_key=email, password_hash="-", display_name="T", roles=[role])
    return await user.insert()


async def make_availability(
    specialist_id: PydanticObjectId,
    timezone: str = "UTC",
    weekly: list[WeeklyHours] | None = None,
) -> Availability:
    availability = Availability(
        specialist_id=specialist_id, timezone=timezone, weekly=ALL_DAY if weekly is None else weekly
    )
    return await availability.insert()


async def make_service(specialist_id: PydanticObjectId | None = None, **fields: Any) -> Service:
    """A published service (free, 30 or 60 minutes, on a 30-minute grid); a new specialist
    open all day in UTC unless one is given."""
    if specialist_id is None:
        specialist = await make_user(Role.SPECIALIST)
        assert specialist.id is not None
        specialist_id = specialist.id
        await make_availability(specialist_id)
    values: dict[str, Any] = {
        "specialist_id": specialist_id,
        "title": "Consultation",
        "durations": [30, 60],
        "price": 0,
        "currency": "eur",
        "minimum_notice": 60,
        "slot_interval": 30,
        "status": ServiceStatus.PUBLISHED,
        **fields,
    }
    return await Service(**values).insert()


def day_at(hour: int, minute: int = 0, days: int = 3) -> datetime:
    """hour:minute UTC, `days` days from today."""
    day = utcnow().date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def request(
    service: Service,
    start: datetime,
    duration: int = 30,
    *,
    key: str | None = None,
    timezone: str = "Europe/Berlin",
    notes: str = "",
) -> BookingRequest:
    return BookingRequest(
        service_id=str(service.id),
        start=start,
        duration_minutes=duration,
        customer_timezone=timezone,
        idempotency_key=key or secrets.token_hex(8),
        notes=notes,
    )


async def book(
    customer: User, service: Service, start: datetime, duration: int = 30, **kw: Any
) -> Booking:
    return await reservations.create_booking(
        customer, request(service, start, duration, **kw), payment_hold=HOLD
    )


async def cells_of(booking_id: PydanticObjectId | None) -> list[datetime]:
    claims = await SlotClaim.find(SlotClaim.booking_id == booking_id).to_list()
    return sorted(c.cell.astimezone(UTC) for c in claims)


async def written_for(specialist_id: PydanticObjectId) -> tuple[int, int]:
    """How many bookings and slot claims exist for the specialist."""
    n_bookings = await Booking.find(Booking.specialist_id == specialist_id).count()
    n_claims = await SlotClaim.find(SlotClaim.specialist_id == specialist_id).count()
    return n_bookings, n_claims
