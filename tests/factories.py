"""Users, specialists, services, hours, bookings and events for the tests: made through
the core's own services where there is one (catalog, working hours), written straight to
the database otherwise. (`bookings_fixtures` holds the booking tests' own.)"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from beanie import PydanticObjectId

from specialistly.core import catalog, read_cache, working_hours
from specialistly.core.availability import Availability
from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.busy import BusyTime
from specialistly.core.catalog import ServiceFields
from specialistly.core.clock import utcnow
from specialistly.core.events import Event
from specialistly.core.services import Service
from specialistly.core.users import Role, SpecialistProfile, User
from specialistly.core.working_hours import DayHours

VIDEO = ["jitsi"]
MINUTE = timedelta(minutes=1)


async def make_user(*roles: Role, name: str = "Test User") -> User:
    email = f"u-{secrets.token_hex(6)}@example.com"
    user = User(
        email=email, email_key=email, password_hash="-", display_name=name, roles=list(roles)
    )
    return await user.insert()


async def make_specialist(
    name: str = "Ada Expert",
    *,
    tz: str = "UTC",
    published: bool = True,
    expertise: Sequence[str] = (),
    headline: str = "",
    bio: str = "",
) -> User:
    user = await make_user(Role.SPECIALIST, name=name)
    assert user.id is not None
    await SpecialistProfile(
        user_id=user.id,
        slug=f"s-{secrets.token_hex(6)}",
        display_name=name,
        timezone=tz,
        currency="eur",
        published=published,
        expertise=list(expertise),
        headline=headline,
        bio=bio,
    ).insert()
    return user


def fields(**changes: Any) -> ServiceFields:
    base: dict[str, Any] = {
        "title": "Career chat",
        "durations": [60],
        "price": 5000,
        "currency": "eur",
        "minimum_notice": 0,
        "slot_interval": 30,
    }
    return ServiceFields(**{**base, **changes})  # type: ignore[typeddict-item]


async def make_service(owner: User, *, publish: bool = True, **changes: Any) -> Service:
    service = await catalog.create_service(owner, fields(**changes), video_providers=VIDEO)
    if publish:
        assert service.id is not None
        service = await catalog.publish_service(owner, str(service.id))
    return service


async def hours(owner: User, tz: str = "UTC", *days: DayHours) -> Availability:
    every_day = tuple(DayHours(d, [("09:00", "17:00")]) for d in range(7))
    return await working_hours.set_weekly_hours(owner, tz, days or every_day)


async def book(
    service: Service,
    start: datetime,
    minutes: int = 60,
    *,
    before: int = 0,
    after: int = 0,
    status: BookingStatus = BookingStatus.CONFIRMED,
) -> Booking:
    assert service.id is not None
    end = start + minutes * MINUTE
    booking = await Booking(
        customer_id=PydanticObjectId(),
        specialist_id=service.specialist_id,
        service_id=service.id,
        start=start,
        end=end,
        claim_start=start - before * MINUTE,
        claim_end=end + after * MINUTE,
        price=service.price,
        currency=service.currency,
        customer_timezone="UTC",
        idempotency_key=secrets.token_hex(8),
        status=status,
        video_provider="jitsi",
    ).insert()
    # Written past the claims: the specialist's busy time is rebuilt from the bookings.
    await BusyTime.get_pymongo_collection().delete_one({"_id": service.specialist_id})
    await read_cache.documents.changed(BusyTime, "_id", service.specialist_id)
    return booking


def monday(weeks_ahead: int = 1) -> date:
    """A Monday at least `weeks_ahead` weeks from today (UTC)."""
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 * weeks_ahead - today.weekday())


def utc(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=UTC)


def stored_event(name: str, subject: str, data: dict[str, object] | None = None) -> Event:
    """An event as publishing stores it: its first delivery leased for the retry delay."""
    now = utcnow()
    return Event(
        name=name,
        subject=subject,
        occurred_at=now,
        data=data or {},
        next_attempt_at=now + timedelta(seconds=2),  # SPECIALISTLY_EVENT_RETRY_DELAY in tests
    )


async def quiet_event(name: str, subject: str, data: dict[str, object] | None = None) -> Event:
    """A stored event that no sweeper of the session's worker delivers during the test."""
    event = stored_event(name, subject, data=data)
    event.next_attempt_at = utcnow() + timedelta(hours=1)
    return await event.insert()


def confirmed_booking_document(
    specialist_id: PydanticObjectId,
    start: datetime,
    minutes: int,
    *,
    customer_id: PydanticObjectId | None = None,
    service_id: PydanticObjectId | None = None,
    customer_timezone: str = "UTC",
) -> Booking:
    """A confirmed, free booking as stored, written straight to the database by tests that
    need a calendar or an event without going through the booking rules."""
    end = start + timedelta(minutes=minutes)
    return Booking(
        customer_id=customer_id or PydanticObjectId(),
        specialist_id=specialist_id,
        service_id=service_id or PydanticObjectId(),
        start=start,
        end=end,
        claim_start=start,
        claim_end=end,
        price=0,
        currency="eur",
        customer_timezone=customer_timezone,
        status=BookingStatus.CONFIRMED,
        idempotency_key=str(PydanticObjectId()),
        video_provider="jitsi",
    )
