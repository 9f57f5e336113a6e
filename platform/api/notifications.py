"""The `lifecycleEvents` subscription: the viewer's lifecycle events as they happen.

Each event arrives as a typed notice: the fields every notice has, the booking it is about
(a `Booking` node, read when asked for) and, for the kinds that tell more, their own fields.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from beanie import PydanticObjectId
from strawberry.types import Info

from specialistly.api.bookings import BookingStatusType, BookingType
from specialistly.api.context import Context
from specialistly.api.errors import graphql_error
from specialistly.core import events
from specialistly.core.errors import DomainError
from specialistly.features.notifications import channel
from specialistly.hookspecs import GraphQLContribution, hookimpl
from specialistly.runtime import Runtime


@strawberry.enum(name="BookingParty")
class BookingPartyType(Enum):
    CUSTOMER = "customer"
    SPECIALIST = "specialist"
    ADMIN = "admin"
    PLATFORM = strawberry.enum_value(
        "platform", description="Nobody: the platform, on what a provider reported."
    )


@strawberry.interface(
    name="LifecycleNotice", description="An event of one of the viewer's bookings."
)
class LifecycleNotice:
    id: strawberry.ID = strawberry.field(description="The event's id.")
    name: str = strawberry.field(description="e.g. booking.confirmed, meeting.created")
    version: int
    occurred_at: datetime
    _booking_id: strawberry.Private[str]

    @strawberry.field(description="The booking as it is now; null if it no longer exists.")
    async def booking(self, info: Info[Context, None]) -> BookingType | None:
        [found] = await BookingType.resolve_nodes(info=info, node_ids=[self._booking_id])
        return found


@strawberry.type(
    name="BookingNotice",
    description="An event that tells nothing beyond its name and booking: booking.created,"
    " booking.confirmed, booking.completed, booking.expired, booking.no_show, and the events"
    " of plugins.",
)
class BookingNotice(LifecycleNotice):
    pass


@strawberry.type(
    name="BookingCancelledNotice", description="A booking was cancelled (booking.cancelled)."
)
class BookingCancelledNotice(LifecycleNotice):
    by: BookingPartyType
    reason: str | None
    previous_status: BookingStatusType
    refund_percent: int = strawberry.field(description="Of the price, refunded to the customer.")


@strawberry.type(
    name="BookingRescheduledNotice",
    description="A booking moved to another time (booking.rescheduled).",
)
class BookingRescheduledNotice(LifecycleNotice):
    by: BookingPartyType
    previous_start: datetime
    previous_end: datetime
    start: datetime
    end: datetime


@strawberry.type(
    name="MeetingCreatedNotice", description="A booking's meeting was created (meeting.created)."
)
class MeetingCreatedNotice(LifecycleNotice):
    provider: str
    join_url: str


@strawberry.type(
    name="MeetingFailedNotice",
    description="A booking's meeting could not be created (meeting.failed).",
)
class MeetingFailedNotice(LifecycleNotice):
    reason: str


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Events of the viewer's bookings. Authenticate in connection_init "
        'with {"authorization": "Bearer <access token>"}.'
    )
    async def lifecycle_events(
        self, info: Info[Context, None]
    ) -> AsyncGenerator[LifecycleNotice, None]:
        async for message in viewer_messages(info.context, channel):
            yield notice_of(message)


async def viewer_messages(
    ctx: Context, channel_of: Callable[[Runtime, PydanticObjectId], str]
) -> AsyncGenerator[dict[str, Any], None]:
    """The messages published on the signed-in viewer's channel (`channel_of`), for as long
    as the subscription lasts; UNAUTHENTICATED without a viewer."""
    try:
        user = await ctx.require_user()
    except DomainError as exc:
        raise graphql_error(exc) from None
    assert user.id is not None
    pubsub = ctx.runtime.subscriptions.pubsub()
    await pubsub.subscribe(channel_of(ctx.runtime, user.id))
    try:
        async for message in pubsub.listen():
            if message["type"] == "message":
                yield json.loads(message["data"])
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


def notice_of(raw: dict[str, Any]) -> LifecycleNotice:
    """The typed notice of a pub/sub message (see `features.notifications.message_of`)."""
    data: dict[str, Any] = raw["data"]
    common: dict[str, Any] = {
        "id": strawberry.ID(raw["id"]),
        "name": raw["name"],
        "version": raw["version"],
        "occurred_at": datetime.fromisoformat(raw["occurred_at"]),
        "_booking_id": data["booking_id"],
    }
    typed = _TYPED.get((raw["name"], raw["version"]))
    return typed(common, data) if typed else BookingNotice(**common)


def _cancelled(common: dict[str, Any], data: dict[str, Any]) -> LifecycleNotice:
    return BookingCancelledNotice(
        **common,
        by=BookingPartyType(data["by"]),
        reason=data["reason"] or None,
        previous_status=BookingStatusType(data["previous_status"]),
        refund_percent=data["refund_percent"],
    )


def _rescheduled(common: dict[str, Any], data: dict[str, Any]) -> LifecycleNotice:
    return BookingRescheduledNotice(
        **common,
        by=BookingPartyType(data["by"]),
        previous_start=datetime.fromisoformat(data["previous_start"]),
        previous_end=datetime.fromisoformat(data["previous_end"]),
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
    )


def _meeting_created(common: dict[str, Any], data: dict[str, Any]) -> LifecycleNotice:
    return MeetingCreatedNotice(**common, provider=data["provider"], join_url=data["join_url"])


def _meeting_failed(common: dict[str, Any], data: dict[str, Any]) -> LifecycleNotice:
    return MeetingFailedNotice(**common, reason=data["reason"])


_TYPED: dict[tuple[str, int], Callable[[dict[str, Any], dict[str, Any]], LifecycleNotice]] = {
    (events.BOOKING_CANCELLED, 1): _cancelled,
    (events.BOOKING_RESCHEDULED, 1): _rescheduled,
    (events.MEETING_CREATED, 1): _meeting_created,
    (events.MEETING_FAILED, 1): _meeting_failed,
}


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(
        subscription=Subscription,
        types=[
            BookingNotice,
            BookingCancelledNotice,
            BookingRescheduledNotice,
            MeetingCreatedNotice,
            MeetingFailedNotice,
        ],
    )
