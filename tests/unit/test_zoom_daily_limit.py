"""Knowing Zoom's daily limit when it answers one, and when it ends."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from specialistly_zoom.client import daily_limit, next_utc_day


def test_the_next_utc_day_starts_at_midnight() -> None:
    assert next_utc_day(datetime(2031, 12, 31, 23, 59, 59, tzinfo=UTC)) == datetime(
        2032, 1, 1, tzinfo=UTC
    )
    assert next_utc_day(datetime(2031, 3, 4, 0, 0, tzinfo=UTC)) == datetime(2031, 3, 5, tzinfo=UTC)


def test_a_daily_limit_is_known_by_its_header_or_by_its_message() -> None:
    per_second = {"code": 429, "message": "You have reached the maximum per-second rate limit"}
    daily = {"code": 429, "message": "You have exceeded the daily rate limit (100) of ..."}

    assert daily_limit(httpx.Response(429, json=daily))
    assert daily_limit(httpx.Response(429, json={}, headers={"X-RateLimit-Type": "Daily-limit"}))
    assert not daily_limit(httpx.Response(429, json=per_second))
    assert not daily_limit(httpx.Response(429, content=b"not json"))
