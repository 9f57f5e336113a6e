"""slotsByDay's grouping: local dates and wall-clock times, through changes of clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from specialistly.api.slots import by_day
from specialistly.core.schedule import Slot


def slots(first: datetime, count: int, minutes: int) -> list[Slot]:
    starts = [first + timedelta(minutes=minutes * n) for n in range(count)]
    return [Slot(start, start + timedelta(minutes=minutes)) for start in starts]


def test_a_time_repeated_when_clocks_go_back_appears_twice() -> None:
    # Berlin's clocks go back from 03:00 to 02:00 on 2026-10-25 (00:00 UTC is 02:00 there).
    days = by_day(
        slots(datetime(2026, 10, 24, 23, 30, tzinfo=UTC), 4, 30), ZoneInfo("Europe/Berlin")
    )
    (day,) = days
    assert day.date == "2026-10-25"
    assert day.times == ["01:30", "02:00", "02:30", "02:00"]
    assert [s.utcoffset() for s in day.starts] == [timedelta(hours=h) for h in (2, 2, 2, 1)]


def test_days_break_at_local_midnight_and_times_keep_their_minutes() -> None:
    found = slots(datetime(2026, 12, 7, 23, 5, tzinfo=UTC), 3, 50)
    assert [(d.date, d.times) for d in by_day(found, ZoneInfo("UTC"))] == [
        ("2026-12-07", ["23:05", "23:55"]),
        ("2026-12-08", ["00:45"]),
    ]
    assert [(d.date, d.times) for d in by_day(found, ZoneInfo("Asia/Kolkata"))] == [
        ("2026-12-08", ["04:35", "05:25", "06:15"]),
    ]
