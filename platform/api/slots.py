"""Bookable slots in GraphQL: the free start times of a service."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import strawberry
from strawberry import relay
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.cost import LIST_LENGTH
from specialistly.api.local_times import LocalDateTimeType
from specialistly.api.services import load_service, node_id
from specialistly.core import catalog, schedule, validation
from specialistly.core.errors import Check
from specialistly.core.services import Service
from specialistly.hookspecs import GraphQLContribution, hookimpl
from specialistly.providers import ready_to_host

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
        return cls(
            start=slot.start,
            end=slot.end,
            start_local=LocalDateTimeType.of(slot.start, zone) if zone else None,
            end_local=LocalDateTimeType.of(slot.end, zone) if zone else None,
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
        wanted = schedule.window(from_, to)
        service = await load_service(info, node_id(service_id, "Service"))
        if service is None or not catalog.can_see(await info.context.viewer(), service):
            raise catalog.service_not_found("service_id")
        if not await _can_host(info, service):
            return []
        found = await schedule.service_slots(service, wanted, duration=duration_minutes)
        return [SlotType.of(s, zone) for s in found]


async def _can_host(info: Info[Context, None], service: Service) -> bool:
    """Whether the service's video provider can make this specialist's meetings now."""
    videos = info.context.runtime.providers.video
    if service.video_provider not in videos:
        return True  # booking records the failure; the slots stay as they were
    return await ready_to_host(videos[service.video_provider], str(service.specialist_id))


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
