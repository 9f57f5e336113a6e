"""Working hours in GraphQL: a specialist's weekly hours and date overrides."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.errors import UserError
from specialistly.core import working_hours
from specialistly.core.availability import Availability, HoursRange
from specialistly.core.users import Role
from specialistly.core.working_hours import DayHours
from specialistly.hookspecs import GraphQLContribution, hookimpl


@strawberry.enum
class Weekday(Enum):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


# --------------------------------------------------------------------------- types


@strawberry.type(name="TimeRange")
class TimeRangeType:
    start: str = strawberry.field(description='"HH:MM", local wall-clock time.')
    end: str = strawberry.field(description='"HH:MM"; "24:00" is midnight after the day.')

    @classmethod
    def of(cls, r: HoursRange) -> TimeRangeType:
        return cls(start=_hhmm(r.start), end=_hhmm(r.end))


@strawberry.type(name="WeekdayHours")
class WeekdayHoursType:
    weekday: Weekday
    ranges: list[TimeRangeType]


@strawberry.type(name="DateOverride")
class DateOverrideType:
    date: str
    ranges: list[TimeRangeType] = strawberry.field(description="Empty: a day off.")


@strawberry.type(name="Availability")
class AvailabilityType:
    timezone: str
    weekly: list[WeekdayHoursType]
    overrides: list[DateOverrideType]
    updated_at: datetime

    @classmethod
    def of(cls, a: Availability) -> AvailabilityType:
        return cls(
            timezone=a.timezone,
            weekly=[
                WeekdayHoursType(
                    weekday=Weekday(w.weekday), ranges=[TimeRangeType.of(r) for r in w.ranges]
                )
                for w in a.weekly
            ],
            overrides=[
                DateOverrideType(date=o.day, ranges=[TimeRangeType.of(r) for r in o.ranges])
                for o in a.overrides
            ],
            updated_at=a.updated_at,
        )


# --------------------------------------------------------------------------- payloads, inputs


@strawberry.type
class AvailabilityPayload:
    availability: AvailabilityType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class TimeRangeInput:
    start: str
    end: str


@strawberry.input
class WeekdayHoursInput:
    weekday: Weekday
    ranges: list[TimeRangeInput]


@strawberry.input
class WeeklyHoursInput:
    timezone: str = strawberry.field(description="IANA name, e.g. Europe/Berlin.")
    days: list[WeekdayHoursInput] = strawberry.field(description="Days left out are closed.")


@strawberry.input
class DateOverrideInput:
    date: str = strawberry.field(description="YYYY-MM-DD in the specialist's time zone.")
    ranges: list[TimeRangeInput] = strawberry.field(
        default_factory=list, description="Empty: a day off."
    )


# --------------------------------------------------------------------------- root fields


@strawberry.type
class Query:
    @strawberry.field(description="The logged-in specialist's working hours, if set.")
    async def my_availability(self, info: Info[Context, None]) -> AvailabilityType | None:
        user = await info.context.require_user(Role.SPECIALIST)
        assert user.id is not None
        found = await working_hours.availability_of(user.id)
        return AvailabilityType.of(found) if found else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Replace the weekly hours; date overrides are kept.")
    async def set_weekly_hours(
        self, info: Info[Context, None], input: WeeklyHoursInput
    ) -> AvailabilityPayload:
        days = [DayHours(d.weekday.value, [(r.start, r.end) for r in d.ranges]) for d in input.days]
        user = await info.context.require_user(Role.SPECIALIST)
        found = await working_hours.set_weekly_hours(user, input.timezone, days)
        return AvailabilityPayload(availability=AvailabilityType.of(found))

    @strawberry.mutation(description="Replace one date's hours (no ranges: a day off).")
    async def set_date_override(
        self, info: Info[Context, None], input: DateOverrideInput
    ) -> AvailabilityPayload:
        user = await info.context.require_user(Role.SPECIALIST)
        ranges = [(r.start, r.end) for r in input.ranges]
        found = await working_hours.set_date_override(user, input.date, ranges)
        return AvailabilityPayload(availability=AvailabilityType.of(found))

    @strawberry.mutation(description="Let the weekly hours apply to the date again.")
    async def remove_date_override(
        self, info: Info[Context, None], date: str
    ) -> AvailabilityPayload:
        user = await info.context.require_user(Role.SPECIALIST)
        found = await working_hours.remove_date_override(user, date)
        return AvailabilityPayload(availability=AvailabilityType.of(found))


# --------------------------------------------------------------------------- helpers


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation)
