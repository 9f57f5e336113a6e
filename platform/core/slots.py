"""Bookable slots: a specialist's weekly hours and date overrides, minus busy time.

Hours are local wall-clock ranges in the specialist's zone; everything else is an instant,
and all arithmetic is done in UTC so that steps and durations are real elapsed time.

- Candidate starts step by `interval` from the start of each local range (not from the
  query window), so the same slots come back whatever window is asked for.
- A meeting must fit inside the open time, where touching ranges merge: 22:00-24:00 on
  Monday and 00:00-02:00 on Tuesday are one four-hour stretch.
- A slot's buffers may reach outside the open time: they only keep bookings apart.
- Busy intervals are other bookings' claims (their buffers included), so a slot is free
  when its own claim, buffers included, overlaps none of them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAY = timedelta(days=1)
_MIDNIGHT = time(0)
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open interval [start, end) of instants; aware inputs are stored in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = _utc(self.start, "Interval.start")
        end = _utc(self.end, "Interval.end")
        if end < start:
            raise ValueError(f"Interval ends ({end}) before it starts ({start})")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @classmethod
    def of_utc(cls, start: datetime, end: datetime) -> Interval:
        """Without the checks, for instants already in UTC and in order (hot loops)."""
        made = object.__new__(cls)
        object.__setattr__(made, "start", start)
        object.__setattr__(made, "end", end)
        return made


@dataclass(frozen=True, slots=True)
class LocalRange:
    """Wall-clock hours on one day; end == time(0) means midnight at the end of the day.

    Not validated on construction so that `validate_ranges` can report problems; a range
    whose start is not before its end is simply never open.
    """

    start: time
    end: time


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """Hours for one weekday (0 = Monday ... 6 = Sunday); several rules for a day combine."""

    weekday: int
    ranges: tuple[LocalRange, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")


@dataclass(frozen=True, slots=True)
class DateOverride:
    """Hours for one date that REPLACE the weekly rule for it (they are not added to it).

    An empty `ranges` is a day off. Several overrides for the same date combine.
    """

    day: date
    ranges: tuple[LocalRange, ...]


@dataclass(frozen=True, slots=True)
class SlotPolicy:
    duration: timedelta  # length of the meeting
    interval: timedelta  # step between candidate starts, from the start of each local range
    buffer_before: timedelta
    buffer_after: timedelta
    minimum_notice: timedelta  # no slot starts earlier than now + minimum_notice
    horizon: timedelta  # no slot starts later than now + horizon

    def __post_init__(self) -> None:
        for name in ("duration", "interval"):
            if getattr(self, name) <= _ZERO:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("buffer_before", "buffer_after"):
            if getattr(self, name) < _ZERO:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")


def available_intervals(
    rules: Sequence[WeeklyRule],
    overrides: Sequence[DateOverride],
    tz: ZoneInfo,
    window: Interval,
) -> list[Interval]:
    """The specialist's open time (merged, sorted, UTC) that intersects window."""
    first, last = _local_day(window.start, tz), _local_day(window.end, tz)
    open_time = _merge(_ranges_in_utc(rules, overrides, tz, first, last))
    return [
        Interval(max(i.start, window.start), min(i.end, window.end))
        for i in open_time
        if overlaps(i, window)
    ]


def compute_slots(
    *,
    rules: Sequence[WeeklyRule],
    overrides: Sequence[DateOverride],
    tz: ZoneInfo,
    busy: Sequence[Interval],
    policy: SlotPolicy,
    window: Interval,
    now: datetime,
) -> list[datetime]:
    """Sorted UTC start times of bookable slots within window."""
    now = _utc(now, "now")
    earliest = max(window.start, now + policy.minimum_notice)
    latest = now + policy.horizon  # inclusive, unlike window.end
    if earliest >= window.end or earliest > latest:
        return []
    # A meeting starting near the end may run into the next day's hours (across midnight).
    last_day = _local_day(min(window.end, latest) + policy.duration, tz)
    ranges = _ranges_in_utc(rules, overrides, tz, _local_day(earliest, tz), last_day)
    open_time = _merge(ranges)
    open_starts = [i.start for i in open_time]
    blocked = _merge(busy)
    blocked_ends = [b.end for b in blocked]
    duration, before = policy.duration, policy.buffer_before
    after = policy.duration + policy.buffer_after

    def bookable(start: datetime) -> bool:
        i = bisect_right(open_starts, start) - 1
        if i < 0 or open_time[i].end < start + duration:
            return False
        # The claim is [start - before, start + after) (claim_interval, inlined: this runs
        # for every candidate). blocked is disjoint and sorted, so only the first one
        # ending after the claim's start can hit.
        j = bisect_right(blocked_ends, start - before)
        return j == len(blocked) or blocked[j].start >= start + after

    slots: set[datetime] = set()
    for r in ranges:
        start = r.start
        if start < earliest:  # jump to the first step at or after earliest (ceil division)
            start += policy.interval * -((start - earliest) // policy.interval)
        while start < r.end and start < window.end and start <= latest:
            if bookable(start):
                slots.add(start)
            start += policy.interval
    return sorted(slots)


def claim_interval(start: datetime, policy: SlotPolicy) -> Interval:
    """The time a booking at `start` blocks.

    That is [start - buffer_before, start + duration + buffer_after).
    """
    start = _utc(start, "start")
    return Interval(start - policy.buffer_before, start + policy.duration + policy.buffer_after)


def overlaps(a: Interval, b: Interval) -> bool:
    """Whether the two share an instant; touching or empty intervals do not overlap."""
    return max(a.start, b.start) < min(a.end, b.end)


def validate_ranges(ranges: Sequence[LocalRange]) -> list[str]:
    """Human-readable problems with one day's ranges; an empty list means they are valid.

    Reports a range whose start is not before its end, and each pair of ranges that overlap
    (ranges that merely touch, like 09:00-12:00 and 12:00-17:00, are fine).
    """
    problems: list[str] = []
    valid: list[LocalRange] = []
    for r in ranges:
        if _offset(r.start) < _end_offset(r):
            valid.append(r)
        else:
            problems.append(f"{_describe(r)}: the start must be before the end")
    valid.sort(key=lambda r: r.start)
    for i, a in enumerate(valid):
        for b in valid[i + 1 :]:
            if _offset(b.start) >= _end_offset(a):
                break  # sorted by start: no later range reaches back into a either
            problems.append(f"{_describe(a)} overlaps {_describe(b)}")
    return problems


def _ranges_in_utc(
    rules: Sequence[WeeklyRule],
    overrides: Sequence[DateOverride],
    tz: ZoneInfo,
    first: date,
    last: date,
) -> list[Interval]:
    """Every local range that applies on the days first..last, as UTC intervals (unmerged)."""
    weekly: dict[int, list[LocalRange]] = {}
    for rule in rules:
        weekly.setdefault(rule.weekday, []).extend(rule.ranges)
    by_day: dict[date, list[LocalRange]] = {}
    for override in overrides:
        by_day.setdefault(override.day, []).extend(override.ranges)

    result: list[Interval] = []
    day = first
    while day <= last:
        todays = by_day[day] if day in by_day else weekly.get(day.weekday(), [])
        for r in todays:
            start = _to_utc(day, r.start, tz)
            end = _to_utc(day + _DAY, r.end, tz) if r.end == _MIDNIGHT else _to_utc(day, r.end, tz)
            if start < end:
                result.append(Interval(start, end))
        day += _DAY
    return result


def _to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The instant at which clocks in tz show `wall` on `day`.

    A repeated (fall-back) time maps to its first occurrence (fold=0), so 09:00-17:00 stays
    eight real hours either side of a change. A skipped (spring-forward) time maps to the
    instant of the jump, so a range partly in the gap covers just the part that exists.
    Starts and ends use this one mapping, which never runs backwards as wall time moves
    forward: a range may shrink (even to nothing) but never gets a negative length, and
    touching ranges still meet exactly.
    """
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    instant = naive.replace(tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == naive:
        return instant
    # In a gap, fold=1 applies the offset after the jump, giving an instant before it, and
    # fold=0 the offset before it, giving an instant after it; bisect to the jump itself.
    before = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    after = instant
    while after - before > timedelta(microseconds=1):
        middle = before + (after - before) // 2
        if middle.astimezone(tz).replace(tzinfo=None) > naive:
            after = middle
        else:
            before = middle
    return after


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-empty intervals covering the same time; touching ones join."""
    merged: list[Interval] = []
    for i in sorted(intervals, key=lambda i: i.start):
        if i.start == i.end:
            continue
        if merged and i.start <= merged[-1].end:
            if i.end > merged[-1].end:
                merged[-1] = Interval.of_utc(merged[-1].start, i.end)
        else:
            merged.append(i)
    return merged


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def _offset(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


def _end_offset(r: LocalRange) -> timedelta:
    return _DAY if r.end == _MIDNIGHT else _offset(r.end)


def _describe(r: LocalRange) -> str:
    def show(t: time) -> str:
        return t.isoformat("minutes") if t.second == t.microsecond == 0 else t.isoformat()

    end = "24:00" if r.end == _MIDNIGHT else show(r.end)
    return f"{show(r.start)}-{end}"
