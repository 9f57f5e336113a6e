"""Slot computation: examples, time-zone edge cases and property tests."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specialistly.core.slots import (
    DateOverride,
    Interval,
    LocalRange,
    SlotPolicy,
    WeeklyRule,
    available_intervals,
    claim_interval,
    compute_slots,
    overlaps,
    validate_ranges,
)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MONDAY, TUESDAY, FRIDAY, SATURDAY, SUNDAY = 0, 1, 4, 5, 6


def at(text: str, zone: str = "UTC") -> datetime:
    """An aware datetime from 'YYYY-MM-DD HH:MM' wall time in zone."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def utc(text: str) -> datetime:
    return at(text)


def hours(start: str, end: str) -> LocalRange:
    """A local range from 'HH:MM' strings; '24:00' is midnight at the end of the day."""
    return LocalRange(
        time.fromisoformat(start), time(0) if end == "24:00" else time.fromisoformat(end)
    )


def weekly(weekday: int, *ranges: tuple[str, str]) -> WeeklyRule:
    return WeeklyRule(weekday, tuple(hours(a, b) for a, b in ranges))


def policy(
    duration: int = 60,
    interval: int = 30,
    *,
    before: int = 0,
    after: int = 0,
    notice: timedelta = timedelta(0),
    horizon: timedelta = timedelta(days=365),
) -> SlotPolicy:
    """A policy with durations in minutes."""
    return SlotPolicy(
        duration=duration * MINUTE,
        interval=interval * MINUTE,
        buffer_before=before * MINUTE,
        buffer_after=after * MINUTE,
        minimum_notice=notice,
        horizon=horizon,
    )


def slots(
    rules: Sequence[WeeklyRule],
    start: datetime,
    end: datetime,
    *,
    zone: str = "UTC",
    overrides: Sequence[DateOverride] = (),
    busy: Sequence[Interval] = (),
    rule: SlotPolicy | None = None,
    now: datetime | None = None,
) -> list[datetime]:
    return compute_slots(
        rules=rules,
        overrides=overrides,
        tz=ZoneInfo(zone),
        busy=busy,
        policy=rule or policy(),
        window=Interval(start, end),
        now=now or start - 30 * DAY,
    )


def utcs(day: str, *clock: str) -> list[datetime]:
    return [utc(f"{day} {c}") for c in clock]


# A week starting on Monday 2024-06-03.
WEEK = (utc("2024-06-03 00:00"), utc("2024-06-10 00:00"))


# --- plain examples ---------------------------------------------------------------------


def test_a_weekday_rule_gives_slots_on_that_weekday_only() -> None:
    result = slots([weekly(MONDAY, ("09:00", "12:00"))], *WEEK)
    assert result == utcs("2024-06-03", "09:00", "09:30", "10:00", "10:30", "11:00")


def test_results_are_utc() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00"))]
    result = slots(rules, *WEEK, zone="Europe/Berlin", rule=policy(30, 30))
    assert result == [utc("2024-06-03 07:00"), utc("2024-06-03 07:30")]
    assert all(s.tzinfo is UTC for s in result)


def test_starts_step_from_the_range_start_not_the_window_start() -> None:
    result = slots([weekly(MONDAY, ("09:00", "11:00"))], utc("2024-06-03 09:10"), WEEK[1])
    assert result == utcs("2024-06-03", "09:30", "10:00")


def test_window_end_is_exclusive_but_the_meeting_may_run_past_it() -> None:
    rules = [weekly(MONDAY, ("09:00", "12:00"))]
    assert slots(rules, WEEK[0], utc("2024-06-03 10:00")) == utcs("2024-06-03", "09:00", "09:30")


def test_the_after_buffer_keeps_a_gap_before_a_booking() -> None:
    busy = [Interval(utc("2024-06-03 10:00"), utc("2024-06-03 11:00"))]
    rules = [weekly(MONDAY, ("09:00", "12:00"))]
    result = slots(rules, *WEEK, busy=busy, rule=policy(30, 30, after=15))
    assert result == utcs("2024-06-03", "09:00", "11:00", "11:30")


def test_the_before_buffer_keeps_a_gap_after_a_booking() -> None:
    busy = [Interval(utc("2024-06-03 10:00"), utc("2024-06-03 11:00"))]
    rules = [weekly(MONDAY, ("09:00", "12:00"))]
    result = slots(rules, *WEEK, busy=busy, rule=policy(30, 30, before=15))
    assert result == utcs("2024-06-03", "09:00", "09:30", "11:30")


def test_without_buffers_a_slot_may_touch_a_booking() -> None:
    busy = [Interval(utc("2024-06-03 10:00"), utc("2024-06-03 11:00"))]
    rules = [weekly(MONDAY, ("09:00", "12:00"))]
    result = slots(rules, *WEEK, busy=busy, rule=policy(30, 30))
    assert result == utcs("2024-06-03", "09:00", "09:30", "11:00", "11:30")


def test_buffers_may_reach_outside_the_open_hours() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00"))]
    result = slots(rules, *WEEK, rule=policy(60, 30, before=30, after=30))
    assert result == [utc("2024-06-03 09:00")]


def test_a_booking_blocks_every_slot_of_any_length_that_overlaps_it() -> None:
    busy = [Interval(utc("2024-06-03 11:00"), utc("2024-06-03 12:00"))]
    rules = [weekly(MONDAY, ("09:00", "15:00"))]
    short = slots(rules, *WEEK, busy=busy, rule=policy(30, 30))
    long = slots(rules, *WEEK, busy=busy, rule=policy(90, 30))
    assert short == utcs(
        "2024-06-03", "09:00", "09:30", "10:00", "10:30", "12:00", "12:30", "13:00", "13:30"
    ) + utcs("2024-06-03", "14:00", "14:30")
    assert long == utcs("2024-06-03", "09:00", "09:30", "12:00", "12:30", "13:00", "13:30")


def test_nested_and_touching_bookings_block_their_whole_span() -> None:
    busy = [
        Interval(utc("2024-06-03 09:30"), utc("2024-06-03 09:45")),
        Interval(utc("2024-06-03 09:00"), utc("2024-06-03 11:00")),
        Interval(utc("2024-06-03 11:00"), utc("2024-06-03 12:00")),
        Interval(utc("2024-06-03 10:00"), utc("2024-06-03 10:15")),
    ]
    rules = [weekly(MONDAY, ("09:00", "13:00"))]
    assert slots(rules, *WEEK, busy=busy, rule=policy(30, 30)) == utcs(
        "2024-06-03", "12:00", "12:30"
    )


def test_minimum_notice() -> None:
    rules = [weekly(MONDAY, ("09:00", "12:00"))]
    now = utc("2024-06-03 08:50")
    result = slots(rules, *WEEK, now=now, rule=policy(60, 30, notice=HOUR))
    assert result == utcs("2024-06-03", "10:00", "10:30", "11:00")
    exactly = slots(rules, *WEEK, now=utc("2024-06-03 08:00"), rule=policy(60, 30, notice=HOUR))
    assert exactly[0] == utc("2024-06-03 09:00")


def test_horizon_is_inclusive() -> None:
    rules = [weekly(MONDAY, ("09:00", "12:00"))]
    result = slots(rules, *WEEK, now=WEEK[0], rule=policy(60, 30, horizon=10 * HOUR))
    assert result == utcs("2024-06-03", "09:00", "09:30", "10:00")


def test_notice_beyond_horizon_means_no_slots() -> None:
    rules = [weekly(MONDAY, ("09:00", "12:00"))]
    rule = policy(notice=2 * DAY, horizon=DAY)
    assert slots(rules, *WEEK, now=WEEK[0] - 3 * DAY, rule=rule) == []


def test_a_day_off_override_removes_that_date_only() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00"))]
    off = [DateOverride(date(2024, 6, 3), ())]
    result = slots(rules, WEEK[0], WEEK[1] + DAY, overrides=off, rule=policy(60, 60))
    assert result == [utc("2024-06-10 09:00")]


def test_an_override_adds_hours_on_a_day_without_rules() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00"))]
    extra = [DateOverride(date(2024, 6, 9), (hours("13:00", "14:00"),))]
    result = slots(rules, *WEEK, overrides=extra, rule=policy(60, 60))
    assert result == [utc("2024-06-03 09:00"), utc("2024-06-09 13:00")]


def test_an_override_replaces_the_weekly_hours_for_its_date() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00"))]
    moved = [DateOverride(date(2024, 6, 3), (hours("14:00", "15:00"),))]
    assert slots(rules, *WEEK, overrides=moved, rule=policy(60, 60)) == [utc("2024-06-03 14:00")]


def test_overrides_and_rules_for_the_same_day_combine() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00")), weekly(MONDAY, ("11:00", "12:00"))]
    assert slots(rules, *WEEK, rule=policy(60, 60)) == utcs("2024-06-03", "09:00", "11:00")
    overrides = [
        DateOverride(date(2024, 6, 3), (hours("13:00", "14:00"),)),
        DateOverride(date(2024, 6, 3), (hours("15:00", "16:00"),)),
    ]
    result = slots(rules, *WEEK, overrides=overrides, rule=policy(60, 60))
    assert result == utcs("2024-06-03", "13:00", "15:00")


def test_multiple_ranges_per_day_do_not_let_a_meeting_span_the_gap() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00"), ("10:30", "12:00"))]
    assert slots(rules, *WEEK) == utcs("2024-06-03", "09:00", "10:30", "11:00")


def test_touching_ranges_on_one_day_merge() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00"), ("10:00", "11:00"))]
    assert slots(rules, *WEEK) == utcs("2024-06-03", "09:00", "09:30", "10:00")


def test_starts_step_from_each_range_even_when_ranges_touch() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00"), ("10:00", "11:00"))]
    result = slots(rules, *WEEK, rule=policy(30, 40))
    assert result == utcs("2024-06-03", "09:00", "09:40", "10:00")


def test_round_the_clock_slots_do_not_depend_on_the_window() -> None:
    rules = [weekly(d, ("00:00", "24:00")) for d in range(7)]
    rule = policy(50, 50)
    wide = slots(rules, utc("2024-06-03 00:00"), utc("2024-06-06 00:00"), rule=rule)
    narrow = slots(rules, utc("2024-06-04 05:00"), utc("2024-06-06 00:00"), rule=rule)
    assert narrow == [s for s in wide if s >= utc("2024-06-04 05:00")]
    assert utc("2024-06-04 00:00") in wide


def test_a_range_that_ends_before_it_starts_is_never_open() -> None:
    rules = [weekly(MONDAY, ("17:00", "09:00"), ("10:00", "10:00"))]
    assert slots(rules, *WEEK) == []


def test_many_busy_intervals_match_a_brute_force_check() -> None:
    start = utc("2024-06-03 00:00")
    busy = [
        Interval(start + (i * 37 % 2000) * 5 * MINUTE, start + ((i * 37 % 2000) * 5 + 25) * MINUTE)
        for i in range(600)
    ]
    rules = [weekly(d, ("08:00", "18:00")) for d in range(7)]
    rule = policy(45, 15, before=10, after=5)
    free = slots(rules, start, start + 7 * DAY, rule=rule)
    expected = [s for s in free if not any(overlaps(claim_interval(s, rule), b) for b in busy)]
    result = slots(rules, start, start + 7 * DAY, busy=busy, rule=rule)
    assert result == expected
    assert 0 < len(result) < len(free)


# --- midnight and zones far from UTC ------------------------------------------------------


def test_a_range_to_midnight_joins_one_from_midnight_the_next_day() -> None:
    rules = [weekly(MONDAY, ("22:00", "24:00")), weekly(TUESDAY, ("00:00", "02:00"))]
    result = slots(rules, *WEEK, rule=policy(90, 30))
    assert result == utcs("2024-06-03", "22:00", "22:30", "23:00", "23:30") + utcs(
        "2024-06-04", "00:00", "00:30"
    )
    assert slots(rules, *WEEK, rule=policy(240, 30)) == [utc("2024-06-03 22:00")]
    opened = available_intervals(rules, [], ZoneInfo("UTC"), Interval(*WEEK))
    assert opened == [Interval(utc("2024-06-03 22:00"), utc("2024-06-04 02:00"))]


def test_a_meeting_may_run_into_the_next_day_past_the_window_end() -> None:
    rules = [weekly(MONDAY, ("22:00", "24:00")), weekly(TUESDAY, ("00:00", "02:00"))]
    result = slots(rules, WEEK[0], utc("2024-06-03 23:45"), rule=policy(90, 30))
    assert result == utcs("2024-06-03", "22:00", "22:30", "23:00", "23:30")


def test_midnight_join_in_a_half_hour_zone() -> None:
    rules = [weekly(MONDAY, ("22:00", "24:00")), weekly(TUESDAY, ("00:00", "02:00"))]
    opened = available_intervals(rules, [], ZoneInfo("Asia/Kolkata"), Interval(*WEEK))
    assert opened == [Interval(utc("2024-06-03 16:30"), utc("2024-06-03 20:30"))]


def test_kiritimati_monday_morning_is_sunday_in_utc() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00"))]
    window = (utc("2024-06-02 00:00"), utc("2024-06-03 00:00"))
    assert slots(rules, *window, zone="Pacific/Kiritimati") == [utc("2024-06-02 19:00")]


def test_pago_pago_monday_evening_is_tuesday_in_utc() -> None:
    rules = [weekly(MONDAY, ("20:00", "24:00"))]
    result = slots(rules, *WEEK, zone="Pacific/Pago_Pago", rule=policy(120, 60))
    assert result == utcs("2024-06-04", "07:00", "08:00", "09:00")


def test_kolkata_half_hour_offset() -> None:
    rules = [weekly(MONDAY, ("09:00", "10:00"))]
    result = slots(rules, *WEEK, zone="Asia/Kolkata", rule=policy(30, 30))
    assert result == [utc("2024-06-03 03:30"), utc("2024-06-03 04:00")]


def test_window_is_matched_in_utc_not_local_days() -> None:
    # Monday 09:00 in Kiritimati is outside a window covering Monday in UTC.
    rules = [weekly(MONDAY, ("09:00", "10:00"))]
    window = (utc("2024-06-03 00:00"), utc("2024-06-04 00:00"))
    assert slots(rules, *window, zone="Pacific/Kiritimati") == []


# --- daylight saving time -----------------------------------------------------------------


def test_new_york_spring_forward_skips_the_missing_hour() -> None:
    rules = [weekly(SUNDAY, ("01:00", "04:00"))]
    window = (utc("2024-03-10 00:00"), utc("2024-03-11 00:00"))
    result = slots(rules, *window, zone="America/New_York", rule=policy(30, 30))
    # 01:00 and 01:30 EST, then 03:00 and 03:30 EDT: two real hours.
    assert result == utcs("2024-03-10", "06:00", "06:30", "07:00", "07:30")
    opened = available_intervals(rules, [], ZoneInfo("America/New_York"), Interval(*window))
    assert opened == [Interval(utc("2024-03-10 06:00"), utc("2024-03-10 08:00"))]


def test_new_york_range_starting_inside_the_gap_starts_when_clocks_jump() -> None:
    rules = [weekly(SUNDAY, ("02:30", "04:00"))]
    window = (utc("2024-03-10 00:00"), utc("2024-03-11 00:00"))
    result = slots(rules, *window, zone="America/New_York", rule=policy(30, 30))
    assert result == utcs("2024-03-10", "07:00", "07:30")  # 03:00 and 03:30 EDT


def test_new_york_nine_to_five_is_eight_hours_both_sides_of_each_change() -> None:
    rules = [weekly(SATURDAY, ("09:00", "17:00")), weekly(SUNDAY, ("09:00", "17:00"))]
    rule = policy(60, 60)
    for saturday, sunday, before, after in [
        ("2024-03-09", "2024-03-10", 14, 13),  # EST -> EDT
        ("2024-11-02", "2024-11-03", 13, 14),  # EDT -> EST
    ]:
        window = (utc(f"{saturday} 00:00"), utc(f"{saturday} 00:00") + 3 * DAY)
        result = slots(rules, *window, zone="America/New_York", rule=rule)
        assert result == [utc(f"{saturday} {h:02}:00") for h in range(before, before + 8)] + [
            utc(f"{sunday} {h:02}:00") for h in range(after, after + 8)
        ]


def test_new_york_fall_back_gives_each_real_hour_once() -> None:
    rules = [weekly(SUNDAY, ("01:00", "03:00"))]
    window = (utc("2024-11-03 00:00"), utc("2024-11-04 00:00"))
    result = slots(rules, *window, zone="America/New_York", rule=policy(60, 60))
    # 01:00 EDT, 01:00 EST and 02:00 EST: three distinct instants, no duplicates.
    assert result == utcs("2024-11-03", "05:00", "06:00", "07:00")


def test_berlin_spring_forward() -> None:
    rules = [weekly(SUNDAY, ("01:00", "04:00"))]
    window = (utc("2024-03-30 00:00"), utc("2024-04-01 00:00"))
    result = slots(rules, *window, zone="Europe/Berlin", rule=policy(60, 60))
    assert result == utcs("2024-03-31", "00:00", "01:00")  # 01:00 CET, 03:00 CEST
    gap_rules = [weekly(SUNDAY, ("02:30", "04:00"))]
    gap = slots(gap_rules, *window, zone="Europe/Berlin", rule=policy(30, 30))
    assert gap == utcs("2024-03-31", "01:00", "01:30")


def test_berlin_fall_back() -> None:
    rules = [weekly(SATURDAY, ("09:00", "17:00")), weekly(SUNDAY, ("09:00", "17:00"))]
    window = (utc("2024-10-26 00:00"), utc("2024-10-28 00:00"))
    result = slots(rules, *window, zone="Europe/Berlin", rule=policy(480, 60))
    assert result == [utc("2024-10-26 07:00"), utc("2024-10-27 08:00")]
    night = slots([weekly(SUNDAY, ("02:00", "04:00"))], *window, zone="Europe/Berlin")
    # 02:00 CEST to 04:00 CET is three real hours.
    assert night == utcs("2024-10-27", "00:00", "00:30", "01:00", "01:30", "02:00")


def test_lord_howe_half_hour_spring_forward() -> None:
    rules = [weekly(SUNDAY, ("01:00", "04:00"))]
    window = (utc("2024-10-05 00:00"), utc("2024-10-07 00:00"))
    result = slots(rules, *window, zone="Australia/Lord_Howe", rule=policy(30, 30))
    # 01:00 and 01:30 at +10:30, then 02:30 to 03:30 at +11.
    assert result == utcs("2024-10-05", "14:30", "15:00", "15:30", "16:00", "16:30")


def test_lord_howe_half_hour_fall_back() -> None:
    rules = [weekly(SUNDAY, ("01:00", "03:00"))]
    window = (utc("2024-04-06 00:00"), utc("2024-04-08 00:00"))
    result = slots(rules, *window, zone="Australia/Lord_Howe", rule=policy(30, 30))
    # 01:00 and 01:30 at +11, then 01:30, 02:00 and 02:30 at +10:30.
    assert result == utcs("2024-04-06", "14:00", "14:30", "15:00", "15:30", "16:00")


def test_santiago_midnight_gap_still_joins_the_days() -> None:
    # Clocks jump from Saturday 24:00 to Sunday 01:00; Sunday 00:00 never happens.
    rules = [weekly(SATURDAY, ("22:00", "24:00")), weekly(SUNDAY, ("00:00", "02:00"))]
    window = (utc("2024-09-07 00:00"), utc("2024-09-09 00:00"))
    tz = ZoneInfo("America/Santiago")
    opened = available_intervals(rules, [], tz, Interval(*window))
    assert opened == [Interval(utc("2024-09-08 02:00"), utc("2024-09-08 05:00"))]
    result = slots(rules, *window, zone="America/Santiago", rule=policy(60, 60))
    assert result == utcs("2024-09-08", "02:00", "03:00", "04:00")


def test_a_calendar_day_the_zone_skipped_has_no_slots() -> None:
    # Samoa skipped Friday 2011-12-30 when it moved across the date line.
    rules = [weekly(d, ("09:00", "10:00")) for d in range(7)]
    window = (utc("2011-12-29 00:00"), utc("2011-12-31 12:00"))
    result = slots(rules, *window, zone="Pacific/Apia", rule=policy(60, 60))
    tz = ZoneInfo("Pacific/Apia")
    assert [s.astimezone(tz).date() for s in result] == [date(2011, 12, 29), date(2011, 12, 31)]


# --- small pieces -------------------------------------------------------------------------


def test_claim_interval_adds_both_buffers() -> None:
    start = at("2024-06-03 11:00", "Europe/Berlin")
    claim = claim_interval(start, policy(60, 30, before=10, after=20))
    assert claim == Interval(utc("2024-06-03 08:50"), utc("2024-06-03 10:20"))
    assert claim.start.tzinfo is UTC


def test_interval_is_stored_in_utc() -> None:
    interval = Interval(at("2024-11-03 01:30", "America/New_York"), utc("2024-11-03 07:00"))
    assert interval.start == utc("2024-11-03 05:30")
    assert interval.start.tzinfo is UTC


def test_overlaps_is_strict_about_touching_and_empty_intervals() -> None:
    a = Interval(utc("2024-06-03 09:00"), utc("2024-06-03 10:00"))
    assert overlaps(a, Interval(utc("2024-06-03 09:59"), utc("2024-06-03 11:00")))
    assert overlaps(a, Interval(utc("2024-06-03 09:10"), utc("2024-06-03 09:20")))
    assert not overlaps(a, Interval(utc("2024-06-03 10:00"), utc("2024-06-03 11:00")))
    assert not overlaps(a, Interval(utc("2024-06-03 09:30"), utc("2024-06-03 09:30")))


def test_available_intervals_are_clipped_to_the_window() -> None:
    rules = [weekly(MONDAY, ("09:00", "12:00"), ("13:00", "14:00"))]
    window = Interval(utc("2024-06-03 10:00"), utc("2024-06-03 13:30"))
    assert available_intervals(rules, [], ZoneInfo("UTC"), window) == [
        Interval(utc("2024-06-03 10:00"), utc("2024-06-03 12:00")),
        Interval(utc("2024-06-03 13:00"), utc("2024-06-03 13:30")),
    ]


def test_validate_ranges_accepts_sorted_touching_and_midnight_ranges() -> None:
    assert validate_ranges([]) == []
    assert validate_ranges([hours("13:00", "24:00"), hours("09:00", "13:00")]) == []
    assert validate_ranges([hours("00:00", "24:00")]) == []


def test_validate_ranges_reports_backwards_and_empty_ranges() -> None:
    assert validate_ranges([hours("17:00", "09:00"), hours("10:00", "10:00")]) == [
        "17:00-09:00: the start must be before the end",
        "10:00-10:00: the start must be before the end",
    ]


def test_validate_ranges_reports_each_overlapping_pair() -> None:
    problems = validate_ranges(
        [
            hours("11:00", "13:00"),
            hours("09:00", "12:00"),
            hours("22:00", "24:00"),
            hours("23:00", "23:30"),
            hours("12:30", "12:45"),
        ]
    )
    assert problems == [
        "09:00-12:00 overlaps 11:00-13:00",
        "11:00-13:00 overlaps 12:30-12:45",
        "22:00-24:00 overlaps 23:00-23:30",
    ]


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2024, 6, 3, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(naive, utc("2024-06-03 10:00"))
    with pytest.raises(ValueError, match="timezone-aware"):
        claim_interval(naive, policy())
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        slots([], *WEEK, now=naive)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration", timedelta(0), "duration must be positive"),
        ("duration", -MINUTE, "duration must be positive"),
        ("interval", timedelta(0), "interval must be positive"),
        ("buffer_before", -MINUTE, "buffer_before must not be negative"),
    ],
)
def test_invalid_policies_are_rejected(field: str, value: timedelta, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(policy(), **{field: value})


def test_invalid_intervals_and_weekdays_are_rejected() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Interval(utc("2024-06-03 10:00"), utc("2024-06-03 09:00"))
    with pytest.raises(ValueError, match="weekday"):
        WeeklyRule(7, ())


# --- properties ---------------------------------------------------------------------------

TRICKY_ZONES = (
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
    "America/Santiago",
    "Africa/Casablanca",
)
PROPERTY = settings(max_examples=200, deadline=None, database=None)
QUARTER = timedelta(minutes=15)


@functools.cache
def offset_changes(zone: str) -> tuple[datetime, ...]:
    """The first whole UTC hour after each change of the zone's UTC offset, 2023-2026."""
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    hour = datetime(2023, 1, 1, tzinfo=UTC)
    previous = hour.astimezone(tz).utcoffset()
    while hour.year < 2027:
        hour += DAY
        if hour.astimezone(tz).utcoffset() != previous:
            while (hour - HOUR).astimezone(tz).utcoffset() != previous:
                hour -= HOUR
            found.append(hour)
            previous = hour.astimezone(tz).utcoffset()
    return tuple(found)


@dataclasses.dataclass(frozen=True)
class Scenario:
    tz: ZoneInfo
    rules: tuple[WeeklyRule, ...]
    overrides: tuple[DateOverride, ...]
    busy: tuple[Interval, ...]
    policy: SlotPolicy
    window: Interval
    now: datetime

    def slots(self) -> list[datetime]:
        return compute_slots(
            rules=self.rules,
            overrides=self.overrides,
            tz=self.tz,
            busy=self.busy,
            policy=self.policy,
            window=self.window,
            now=self.now,
        )

    def ranges_on(self, day: date) -> list[LocalRange]:
        """The local ranges that apply on day, worked out independently of the module."""
        replaced = [r for o in self.overrides if o.day == day for r in o.ranges]
        if any(o.day == day for o in self.overrides):
            return replaced
        return [r for rule in self.rules if rule.weekday == day.weekday() for r in rule.ranges]


@st.composite
def local_ranges(draw: st.DrawFn) -> LocalRange:
    def quarter(n: int) -> time:
        return time(n // 4 % 24, n % 4 * 15)  # n == 96 is midnight at the end of the day

    start = draw(st.integers(0, 95))
    end = draw(st.integers(start + 1, 96) | st.just(96))
    return LocalRange(quarter(start), quarter(end))


def minutes(low: int, high: int, step: int = 5) -> st.SearchStrategy[timedelta]:
    return st.integers(low // step, high // step).map(lambda n: n * step * MINUTE)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    zone = draw(st.sampled_from(TRICKY_ZONES))
    changes = offset_changes(zone)
    if draw(st.booleans()) and changes:
        start = draw(st.sampled_from(changes)) - draw(st.integers(0, 4 * 24)) * QUARTER
    else:
        start = datetime.combine(
            draw(st.dates(date(2023, 1, 1), date(2026, 12, 31))), time(0), tzinfo=UTC
        )
        start += draw(st.integers(0, 95)) * QUARTER
    day = start.date()
    window = Interval(start, start + draw(st.integers(0, 4 * 24 * 2)) * QUARTER)

    ranges = st.lists(local_ranges(), max_size=3).map(tuple)
    # Most weekdays open, plus a few extra rules that combine with them.
    opened = st.lists(local_ranges(), min_size=1, max_size=3).map(tuple)
    rules = [WeeklyRule(d, draw(opened)) for d in range(7) if draw(st.integers(0, 3))]
    rules += draw(st.lists(st.builds(WeeklyRule, st.integers(0, 6), ranges), max_size=3))
    override_days = st.dates(day - 2 * DAY, day + 4 * DAY)
    overrides = draw(st.lists(st.builds(DateOverride, override_days, ranges), max_size=4))
    busy_starts = st.integers(-200, 1000).map(lambda n: start + n * 5 * MINUTE)
    busy = draw(
        st.lists(
            st.builds(lambda s, length: Interval(s, s + length), busy_starts, minutes(0, 240)),
            max_size=10,
        )
    )
    rule = SlotPolicy(
        duration=draw(minutes(5, 180)),
        interval=draw(minutes(5, 120)),
        buffer_before=draw(minutes(0, 60)),
        buffer_after=draw(minutes(0, 60)),
        minimum_notice=draw(minutes(0, 12 * 60, 15)),
        horizon=draw(minutes(0, 10 * 24 * 60, 15)),
    )
    now = start + draw(st.integers(-4 * 24, 4 * 6)) * QUARTER
    return Scenario(ZoneInfo(zone), tuple(rules), tuple(overrides), tuple(busy), rule, window, now)


@PROPERTY
@given(scenarios())
def test_every_slot_meets_every_constraint(case: Scenario) -> None:
    result = case.slots()
    rule = case.policy
    assert result == sorted(set(result))
    for s in result:
        assert s.tzinfo is UTC
        assert case.window.start <= s < case.window.end
        assert case.now + rule.minimum_notice <= s <= case.now + rule.horizon
        assert not any(overlaps(claim_interval(s, rule), b) for b in case.busy)

        meeting = Interval(s, s + rule.duration)
        assert available_intervals(case.rules, case.overrides, case.tz, meeting) == [meeting]

        local = s.astimezone(case.tz)
        wall = local.replace(tzinfo=None)
        assert wall.replace(tzinfo=case.tz, fold=local.fold).astimezone(UTC) == s
        assert wall.replace(tzinfo=case.tz).astimezone(case.tz).replace(tzinfo=None) == wall

        # Every moment of the meeting shows a wall time inside that day's ranges. Range bounds
        # fall on quarter hours, so probing every 15 minutes cannot step over a hole. During a
        # repeated (fall-back) hour the second pass is open time that reads as earlier on the
        # clock, so only first-pass moments are checked.
        probes = [s + n * QUARTER for n in range(rule.duration // QUARTER + 1)]
        for probe in [p for p in probes if p < meeting.end] + [meeting.end - MINUTE]:
            shown = probe.astimezone(case.tz)
            if shown.fold:
                continue
            clock = shown.time()
            assert any(
                r.start <= clock and (r.end == time(0) or clock < r.end)
                for r in case.ranges_on(shown.date())
            ), (probe, shown)


@PROPERTY
@given(scenarios())
def test_busy_time_removes_exactly_the_clashing_slots(case: Scenario) -> None:
    free = dataclasses.replace(case, busy=()).slots()
    expected = [
        s for s in free if not any(overlaps(claim_interval(s, case.policy), b) for b in case.busy)
    ]
    assert case.slots() == expected


@PROPERTY
@given(scenarios())
def test_notice_and_horizon_only_filter(case: Scenario) -> None:
    unbounded = dataclasses.replace(
        case,
        now=case.window.start - DAY,
        policy=dataclasses.replace(case.policy, minimum_notice=timedelta(0), horizon=30 * DAY),
    )
    low, high = case.now + case.policy.minimum_notice, case.now + case.policy.horizon
    assert case.slots() == [s for s in unbounded.slots() if low <= s <= high]


@PROPERTY
@given(scenarios(), st.integers(0, 4 * 24 * 2), st.integers(0, 4 * 24 * 2))
def test_a_wider_window_finds_the_same_slots(case: Scenario, before: int, after: int) -> None:
    wide = Interval(case.window.start - before * QUARTER, case.window.end + after * QUARTER)
    found = dataclasses.replace(case, window=wide).slots()
    assert case.slots() == [s for s in found if case.window.start <= s < case.window.end]


@PROPERTY
@given(scenarios(), st.integers(0, 4 * 24 * 2))
def test_available_intervals_are_merged_and_split_cleanly(case: Scenario, cut: int) -> None:
    opened = available_intervals(case.rules, case.overrides, case.tz, case.window)
    for a, b in itertools.pairwise(opened):
        assert a.end < b.start
    for i in opened:
        assert case.window.start <= i.start < i.end <= case.window.end

    middle = min(case.window.start + cut * QUARTER, case.window.end)
    left = available_intervals(
        case.rules, case.overrides, case.tz, Interval(case.window.start, middle)
    )
    right = available_intervals(
        case.rules, case.overrides, case.tz, Interval(middle, case.window.end)
    )
    if left and right and left[-1].end == right[0].start:  # one stretch cut in two
        left = [*left[:-1], Interval(left[-1].start, right[0].end)]
        right = right[1:]
    assert left + right == opened
