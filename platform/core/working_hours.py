"""A specialist's working hours: weekly hours and date overrides, in their time zone.

Every operation validates its whole input first and writes nothing when anything is wrong,
so a payload's errors always describe an unchanged database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from specialistly.core import read_cache, validation
from specialistly.core.availability import Availability, DateHours, HoursRange, WeeklyHours
from specialistly.core.catalog import DAY_MINUTES, STEP
from specialistly.core.clock import utcnow
from specialistly.core.errors import Check, DomainError, ErrorCode
from specialistly.core.locks import edit_lock
from specialistly.core.slots import LocalRange, validate_ranges
from specialistly.core.users import Role, SpecialistProfile, User

MAX_RANGES_PER_DAY = 12
MAX_OVERRIDES = 400
OVERRIDE_DAYS_AHEAD = 730

# Applied with fullmatch; [0-9], not \d, which also matches other scripts' digits.
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class DayHours:
    """Hours of one weekday as "HH:MM" pairs; an end of "24:00" is midnight after the day."""

    weekday: int
    ranges: Sequence[tuple[str, str]]


async def availability_of(specialist_id: PydanticObjectId) -> Availability | None:
    """The specialist's hours as stored now, for a change to start from (slots show those
    of `read_cache.hours`): straight from the driver, which costs half what Beanie does."""
    raw = await Availability.get_pymongo_collection().find_one({"specialist_id": specialist_id})
    return None if raw is None else Availability.model_validate(raw)


async def set_weekly_hours(user: User, timezone: str, days: Sequence[DayHours]) -> Availability:
    """Replace the specialist's weekly hours and time zone; date overrides are kept."""
    specialist_id = _specialist(user)
    check = Check()
    zone = validation.timezone(check, "timezone", timezone)
    by_day: dict[int, list[HoursRange]] = {}
    if len(days) > 7 * 2:
        check.add(ErrorCode.INVALID, "At most 14 day entries.", "days")
        days = ()
    for i, day in enumerate(days):
        name = f"days.{i}"
        if not 0 <= day.weekday <= 6:
            check.add(
                ErrorCode.INVALID,
                "The weekday must be 0 (Monday) to 6 (Sunday).",
                f"{name}.weekday",
            )
            continue
        by_day.setdefault(day.weekday, []).extend(_ranges(check, f"{name}.ranges", day.ranges))
    for weekday, ranges in by_day.items():
        _no_overlaps(check, "days", ranges, what=f"weekday {weekday}")
    check.raise_if_any()
    weekly = [
        WeeklyHours(weekday=d, ranges=sorted(r, key=lambda r: r.start))
        for d, r in sorted(by_day.items())
        if r
    ]
    current = await availability_of(specialist_id) or await _created(user, specialist_id)
    async with edit_lock(Availability, current.id):
        await Availability.get_pymongo_collection().update_one(
            {"_id": current.id},
            {
                "$set": {
                    "timezone": zone,
                    "weekly": [w.model_dump() for w in weekly],
                    "updated_at": utcnow(),
                }
            },
        )
        await read_cache.hours_changed(specialist_id)
    found = await availability_of(specialist_id)
    assert found is not None
    return found


async def set_date_override(
    user: User, day: str, ranges: Sequence[tuple[str, str]]
) -> Availability:
    """Replace the hours of one date (no ranges: a day off)."""
    specialist_id = _specialist(user)
    check = Check()
    parsed = _override_day(check, "date", day)
    hours = _ranges(check, "ranges", ranges)
    _no_overlaps(check, "ranges", hours, what=day)
    check.raise_if_any()
    assert parsed is not None
    override = DateHours(day=parsed.isoformat(), ranges=sorted(hours, key=lambda r: r.start))
    return await _edit_overrides(user, specialist_id, override.day, override)


async def remove_date_override(user: User, day: str) -> Availability:
    specialist_id = _specialist(user)
    check = Check()
    parsed = _parse_date(check, "date", day)
    check.raise_if_any()
    assert parsed is not None
    return await _edit_overrides(user, specialist_id, parsed.isoformat(), None)


async def _edit_overrides(
    user: User, specialist_id: PydanticObjectId, day: str, override: DateHours | None
) -> Availability:
    """Replace or remove one date's override without losing a concurrent edit of another:
    under the document's lock, as every writer of it (FerretDB v1 updates are not isolated)."""
    found = await availability_of(specialist_id)
    if found is None:
        if override is None:
            raise DomainError.of(ErrorCode.NOT_FOUND, "There is no override on this date.", "date")
        found = await _created(user, specialist_id)
    async with edit_lock(Availability, found.id):
        current = await Availability.get(found.id)
        assert current is not None
        if override is None and all(o.day != day for o in current.overrides):
            raise DomainError.of(ErrorCode.NOT_FOUND, "There is no override on this date.", "date")
        # Past dates no longer matter; dropping them keeps the document small.
        oldest = (utcnow().date() - timedelta(days=2)).isoformat()
        kept = [o for o in current.overrides if o.day != day and o.day >= oldest]
        if override is not None:
            if len(kept) >= MAX_OVERRIDES:
                raise DomainError.of(
                    ErrorCode.INVALID, f"At most {MAX_OVERRIDES} date overrides.", "date"
                )
            kept.append(override)
        kept.sort(key=lambda o: o.day)
        await Availability.get_pymongo_collection().update_one(
            {"_id": current.id},
            {"$set": {"overrides": [o.model_dump() for o in kept], "updated_at": utcnow()}},
        )
        await read_cache.hours_changed(specialist_id)
    updated = await availability_of(specialist_id)
    assert updated is not None
    return updated


async def _created(user: User, specialist_id: PydanticObjectId) -> Availability:
    """The specialist's (empty) working hours, stored now unless a concurrent edit did."""
    profile = await SpecialistProfile.find_one(SpecialistProfile.user_id == user.id)
    fresh = Availability(
        specialist_id=specialist_id, timezone=profile.timezone if profile else "UTC"
    )
    try:
        return await fresh.insert()
    except DuplicateKeyError:
        found = await availability_of(specialist_id)
        assert found is not None
        return found


def _specialist(user: User) -> PydanticObjectId:
    if not user.has(Role.SPECIALIST) or user.id is None:
        raise DomainError.of(ErrorCode.FORBIDDEN, "Only a specialist has working hours.")
    return user.id


def _ranges(check: Check, name: str, ranges: Sequence[tuple[str, str]]) -> list[HoursRange]:
    if len(ranges) > MAX_RANGES_PER_DAY:
        check.add(ErrorCode.INVALID, f"At most {MAX_RANGES_PER_DAY} ranges a day.", name)
        return []
    result = []
    for i, (start, end) in enumerate(ranges):
        first = _minutes(check, f"{name}.{i}.start", start, end_of_day=False)
        last = _minutes(check, f"{name}.{i}.end", end, end_of_day=True)
        if first is not None and last is not None:
            if first < last:
                result.append(HoursRange(start=first, end=last))
            else:
                check.add(ErrorCode.INVALID, "The start must be before the end.", f"{name}.{i}")
    return result


def _minutes(check: Check, name: str, value: str, *, end_of_day: bool) -> int | None:
    """Minutes since midnight of an "HH:MM" on a five-minute step ("24:00" for an end)."""
    if end_of_day and value == "24:00":
        return DAY_MINUTES
    match = _HHMM.fullmatch(value or "")
    if match is None:
        check.add(ErrorCode.INVALID, 'Use a time like "09:30" (24-hour clock).', name)
        return None
    minutes = int(match[1]) * 60 + int(match[2])
    if minutes % STEP:
        check.add(ErrorCode.INVALID, f"Times must fall on {STEP}-minute steps.", name)
        return None
    return minutes


def _no_overlaps(check: Check, name: str, ranges: Sequence[HoursRange], *, what: str) -> None:
    for problem in validate_ranges([local_range(r) for r in ranges]):
        check.add(ErrorCode.OVERLAPPING_RANGES, f"{what}: {problem}.", name)


def local_range(r: HoursRange) -> LocalRange:
    def wall(minutes: int) -> time:
        return time(0) if minutes == DAY_MINUTES else time(minutes // 60, minutes % 60)

    return LocalRange(wall(r.start), wall(r.end))


def _parse_date(check: Check, name: str, value: str) -> date | None:
    """The date of a "YYYY-MM-DD"; None (and a problem) for anything else."""
    try:
        if not _DATE.fullmatch(value or ""):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        check.add(ErrorCode.INVALID, "Use a date like 2030-01-31.", name)
        return None


def _override_day(check: Check, name: str, value: str) -> date | None:
    day = _parse_date(check, name, value)
    today = utcnow().date()
    if day is not None and not (
        today - timedelta(days=1) <= day <= today + timedelta(days=OVERRIDE_DAYS_AHEAD)
    ):
        check.add(
            ErrorCode.INVALID,
            f"The date must be from today to {OVERRIDE_DAYS_AHEAD} days ahead.",
            name,
        )
    return day
