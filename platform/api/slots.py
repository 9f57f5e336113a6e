"""Bookable slots in GraphQL: the free start times of a service."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import strawberry
from strawberry import relay
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, Selection

from specialistly.api.context import Context
from specialistly.api.cost import LIST_LENGTH
from specialistly.api.local_times import LocalDateTimeType, wall_clock
from specialistly.api.services import load_service, node_id
from specialistly.core import catalog, schedule, validation
from specialistly.core.errors import Check
from specialistly.core.services import Service
from specialistly.features import meetings
from specialistly.hookspecs import GraphQLContribution, hookimpl

DurationMinutes = Annotated[
    int | None,
    strawberry.argument(
        description="One of the service's `durationMinutesOptions`; the shortest if left out."
    ),
]


@strawberry.type(name="Slot")
class SlotType:
    start: datetime = strawberry.field(description="UTC.")
    end: datetime
    start_local: LocalDateTimeType | None = strawberry.field(
        description="In the `timezone` asked for, when one was."
    )
    end_local: LocalDateTimeType | None

    @classmethod
    def of(cls, slot: schedule.Slot, zone: ZoneInfo | None) -> SlotType:
        """The slot; its local times only given a zone (else null)."""
        return cls(
            start=slot.start,
            end=slot.end,
            start_local=LocalDateTimeType.of(slot.start, zone) if zone else None,
            end_local=LocalDateTimeType.of(slot.end, zone) if zone else None,
        )


@strawberry.type(
    name="SlotDay",
    description="The bookable starts of one local day, as a calendar shows them.",
)
class SlotDayType:
    date: str = strawberry.field(description='"YYYY-MM-DD" in the `timezone` asked for.')
    starts: list[datetime] = strawberry.field(
        description="The slots' starts that day, with the zone's UTC offset (what"
        " `createBooking` takes), in order."
    )
    times: list[str] = strawberry.field(
        description='The same starts as "HH:MM" wall-clock times (a time repeated by a'
        " change of clocks appears twice)."
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="Bookable start times of a service within [from, to) (at most 62 days),"
        " in UTC and, given a `timezone`, also as local times there.",
        metadata={LIST_LENGTH: lambda args: most_slots(args.get("from"), args.get("to"))},
    )
    async def slots(
        self,
        info: Info[Context, None],
        service_id: relay.GlobalID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        timezone: str | None = None,
        duration_minutes: DurationMinutes = None,
    ) -> list[SlotType]:
        zone = viewer_zone(timezone)
        found = await _slots(info, service_id, from_, to, duration_minutes)
        # Local times cost more than the rest of a slot: made only when they are asked for.
        shown = zone if _asks_for(info.selected_fields, LOCAL_FIELDS) else None
        return [SlotType.of(s, shown) for s in found]

    @strawberry.field(
        description="Bookable start times of a service within [from, to) (at most 62 days),"
        " grouped by local day in `timezone`: days without a slot are left out.",
        # Counted like `slots`: every five-minute start of the window, each day's lists
        # of starts being the work.
        metadata={LIST_LENGTH: lambda args: most_slots(args.get("from"), args.get("to"))},
    )
    async def slots_by_day(
        self,
        info: Info[Context, None],
        service_id: relay.GlobalID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        timezone: str,
        duration_minutes: DurationMinutes = None,
    ) -> list[SlotDayType]:
        zone = viewer_zone(timezone)
        assert zone is not None
        found = await _slots(info, service_id, from_, to, duration_minutes)
        return by_day(found, zone)


LOCAL_FIELDS = frozenset({"startLocal", "endLocal"})


def _asks_for(selections: list[Selection], names: frozenset[str]) -> bool:
    """Whether the field's selection (its fragments included) names one of `names`."""
    for field in selections:
        for selected in field.selections:
            if isinstance(selected, FragmentSpread | InlineFragment):
                if _asks_for([selected], names):
                    return True
            elif selected.name in names:
                return True
    return False


async def _slots(
    info: Info[Context, None],
    service_id: relay.GlobalID,
    from_: datetime,
    to: datetime,
    duration_minutes: int | None,
) -> list[schedule.Slot]:
    wanted = schedule.window(from_, to)
    service = await load_service(info, node_id(service_id, "Service"))
    # The viewer is looked up for a draft only: anyone may see the slots of the others.
    if service is None or not (
        catalog.is_public(service) or catalog.can_see(await info.context.viewer(), service)
    ):
        raise catalog.service_not_found("service_id")
    if not await _can_host(info, service):
        return []
    return await schedule.service_slots(service, wanted, duration=duration_minutes)


def by_day(found: list[schedule.Slot], zone: ZoneInfo) -> list[SlotDayType]:
    """The slots' starts grouped by their local date in zone, in order."""
    days: list[SlotDayType] = []
    current: date | None = None
    for slot in found:
        local = slot.start.astimezone(zone)
        if local.date() != current:
            current = local.date()
            days.append(SlotDayType(date=current.isoformat(), starts=[], times=[]))
        days[-1].starts.append(local)
        days[-1].times.append(wall_clock(local))
    return days


async def _can_host(info: Info[Context, None], service: Service) -> bool:
    """Whether the service's video provider can make this specialist's meetings now."""
    return await meetings.host_check(info.context.runtime)(service)


def most_slots(start: object, end: object) -> int:
    """The most slots a window can hold, one every STEP minutes (the finest slot interval);
    that of the longest window allowed when the window is not two comparable instants."""
    longest = schedule.MAX_WINDOW
    span: timedelta
    try:
        span = min(max(end - start, timedelta(0)), longest)  # type: ignore[operator]
    except TypeError:
        span = longest
    return math.ceil(span / timedelta(minutes=catalog.STEP))


def viewer_zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    check = Check()
    name = validation.timezone(check, "timezone", name)
    check.raise_if_any()
    return validation.zone(name)


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query)
