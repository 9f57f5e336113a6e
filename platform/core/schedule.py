"""Bookable slots of services, from our own database only (never a provider).

Computing the slots of any number of services of one specialist reads the availability
once and the specialist's busy time once (one small document, see core/busy.py), however
many bookings there are.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from beanie import PydanticObjectId

from specialistly.core import busy, read_cache, validation
from specialistly.core.availability import Availability
from specialistly.core.clock import utcnow
from specialistly.core.errors import Check, DomainError, ErrorCode
from specialistly.core.services import Service, ServiceStatus
from specialistly.core.slots import (
    DateOverride,
    Interval,
    SlotPolicy,
    WeeklyRule,
    compute_slots,
)
from specialistly.core.working_hours import local_range

MAX_WINDOW = timedelta(days=62)
# Up to this many candidate starts (the window over the slot interval; two weeks every 15
# minutes) computing the slots costs less than handing them to a thread (a millisecond at
# most): they are computed on the event loop. More are CPU work for a thread beside it.
ON_LOOP_STARTS = 1400
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime  # UTC
    end: datetime


Held = busy.Entry  # a booking that holds the specialist's time


def window(start: datetime, end: datetime) -> Interval:
    """The asked-for window, checked: aware instants, start before end, at most 62 days."""
    check = Check()
    start = validation.instant(check, "start", start)
    end = validation.instant(check, "end", end)
    check.raise_if_any()
    if not start < end:
        raise DomainError.of(ErrorCode.INVALID, "The start must be before the end.", "end")
    if end - start > MAX_WINDOW:
        raise DomainError.of(
            ErrorCode.INVALID, f"Ask for at most {MAX_WINDOW.days} days at once.", "end"
        )
    return Interval(start, end)


def choose_duration(service: Service, duration: int | None) -> int:
    if duration is None:
        return service.durations[0]
    if duration not in service.durations:
        choices = ", ".join(str(d) for d in service.durations)
        raise DomainError.of(
            ErrorCode.INVALID, f"This service lasts {choices} minutes.", "duration_minutes"
        )
    return duration


async def service_slots(
    service: Service,
    wanted: Interval,
    *,
    duration: int | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """The bookable slots of one service starting within `wanted`: two database reads."""
    minutes = choose_duration(service, duration)
    if service.status == ServiceStatus.ARCHIVED:
        return []
    # Both by the specialist's id: read side by side.
    availability, busy_times = await asyncio.gather(
        read_cache.hours(service.specialist_id), busy.read(service.specialist_id)
    )
    if availability is None:
        return []
    tz = ZoneInfo(availability.timezone)
    held = busy_times.overlapping(needed_range([service], wanted, tz))
    now = now or utcnow()
    if (wanted.end - wanted.start) / timedelta(minutes=service.slot_interval) <= ON_LOOP_STARTS:
        return slots_for(service, availability, held, wanted, duration=minutes, now=now)
    # Thousands of candidate starts are CPU work: off the event loop, which keeps serving.
    return await asyncio.to_thread(
        slots_for, service, availability, held, wanted, duration=minutes, now=now
    )


async def next_slots(
    services: Sequence[Service],
    *,
    days: int = 14,
    limit: int = 5,
    duration: int | None = None,
    now: datetime | None = None,
) -> dict[PydanticObjectId, list[Slot]]:
    """The first `limit` slots of each of one specialist's services, for `duration` minutes
    (which each service must offer) or else each one's shortest."""
    now = now or utcnow()
    minutes = {s.id: choose_duration(s, duration) for s in services}
    found: dict[PydanticObjectId, list[Slot]] = {s.id: [] for s in services if s.id}
    bookable = [s for s in services if s.status != ServiceStatus.ARCHIVED]
    if not bookable:
        return found
    specialists = {s.specialist_id for s in bookable}
    if len(specialists) != 1:
        raise ValueError("next_slots takes the services of one specialist")
    specialist_id = bookable[0].specialist_id
    availability, busy_times = await asyncio.gather(
        read_cache.hours(specialist_id), busy.read(specialist_id)
    )
    if availability is None:
        return found
    wanted = Interval(now, now + timedelta(days=days))
    tz = ZoneInfo(availability.timezone)
    held = busy_times.overlapping(needed_range(bookable, wanted, tz))

    def first_slots() -> None:
        for service in bookable:
            assert service.id is not None
            slots = slots_for(
                service, availability, held, wanted, duration=minutes[service.id], now=now
            )
            found[service.id] = slots[:limit]

    await asyncio.to_thread(first_slots)  # off the event loop, as in service_slots
    return found


def needed_range(services: Sequence[Service], wanted: Interval, tz: ZoneInfo) -> Interval:
    """The time whose bookings can matter to slots starting within `wanted`: their buffers
    and durations, and for capped services the whole local days or weeks around it."""
    start = wanted.start - timedelta(minutes=max(s.buffer_before for s in services))
    end = wanted.end + timedelta(minutes=max(s.durations[-1] + s.buffer_after for s in services))
    weekly = any(s.max_per_week for s in services)
    if weekly or any(s.max_per_day for s in services):
        first, last = wanted.start.astimezone(tz).date(), wanted.end.astimezone(tz).date()
        if weekly:
            first -= timedelta(days=first.weekday())
            last += timedelta(days=6 - last.weekday())
        # A day of slack either side stands in for the zone's offset and any DST change.
        start = min(start, _midnight(first, tz) - _DAY)
        end = max(end, _midnight(last, tz) + 2 * _DAY)
    return Interval(start, end)


def slots_for(
    service: Service,
    availability: Availability,
    held: Sequence[Held],
    wanted: Interval,
    *,
    duration: int,
    now: datetime,
) -> list[Slot]:
    """Pure: the slots of one service from already loaded hours and bookings."""
    tz = ZoneInfo(availability.timezone)
    policy = SlotPolicy(
        duration=timedelta(minutes=duration),
        interval=timedelta(minutes=service.slot_interval),
        buffer_before=timedelta(minutes=service.buffer_before),
        buffer_after=timedelta(minutes=service.buffer_after),
        minimum_notice=timedelta(minutes=service.minimum_notice),
        horizon=timedelta(days=service.horizon_days),
    )
    starts = compute_slots(
        rules=[
            WeeklyRule(w.weekday, tuple(local_range(r) for r in w.ranges))
            for w in availability.weekly
        ],
        overrides=[
            DateOverride(date.fromisoformat(o.day), tuple(local_range(r) for r in o.ranges))
            for o in availability.overrides
        ],
        tz=tz,
        busy=[h.claim for h in held],
        policy=policy,
        window=wanted,
        now=now,
    )
    starts = _under_caps(service, held, starts, tz)
    return [Slot(s, s + policy.duration) for s in starts]


def _under_caps(
    service: Service, held: Sequence[Held], starts: list[datetime], tz: ZoneInfo
) -> list[datetime]:
    """Drop the slots of local days (and weeks) already holding the most bookings allowed."""
    if not (service.max_per_day or service.max_per_week):
        return starts
    own = [h.start.astimezone(tz).date() for h in held if h.service_id == service.id]
    per_day = Counter(own)
    per_week = Counter(_monday(d) for d in own)
    kept = []
    for start in starts:
        day = start.astimezone(tz).date()
        if service.max_per_day and per_day[day] >= service.max_per_day:
            continue
        if service.max_per_week and per_week[_monday(day)] >= service.max_per_week:
            continue
        kept.append(start)
    return kept


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
