"""Local times in GraphQL: one typed form for every wall-clock time the API shows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import strawberry


@strawberry.type(
    name="LocalDateTime",
    description="An instant as a wall clock in one time zone shows it.",
)
class LocalDateTimeType:
    date_time: datetime = strawberry.field(
        description="ISO 8601 with the zone's UTC offset, e.g. 2030-01-07T09:00:00-05:00."
    )
    date: str = strawberry.field(description='"YYYY-MM-DD", the local calendar date.')
    time: str = strawberry.field(description='"HH:MM", the local wall-clock time.')
    timezone: str = strawberry.field(description="IANA name, e.g. America/New_York.")

    @classmethod
    def of(cls, instant: datetime, zone: ZoneInfo) -> LocalDateTimeType:
        local = instant.astimezone(zone)
        return cls(
            date_time=local,
            date=local.date().isoformat(),
            time=wall_clock(local),
            timezone=zone.key,
        )


def wall_clock(local: datetime) -> str:
    """A local time's "HH:MM" (a calendar shows hundreds: strftime takes three times as
    long)."""
    return f"{local.hour:02}:{local.minute:02}"
