"""The `lifecycleEvents` subscription: the viewer's lifecycle events as they happen."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.errors import graphql_error
from specialistly.core.errors import DomainError
from specialistly.features.notifications import channel
from specialistly.hookspecs import GraphQLContribution, hookimpl


@strawberry.type
class LifecycleNotice:
    id: strawberry.ID
    name: str = strawberry.field(description="e.g. booking.confirmed, meeting.created")
    version: int
    occurred_at: datetime
    booking_id: relay.GlobalID | None
    data: JSON


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Events of the viewer's bookings. Authenticate in connection_init "
        'with {"authorization": "Bearer <access token>"}.'
    )
    async def lifecycle_events(
        self, info: Info[Context, None]
    ) -> AsyncGenerator[LifecycleNotice, None]:
        ctx = info.context
        try:
            user = await ctx.require_user()
        except DomainError as exc:
            raise graphql_error(exc) from None
        pubsub = ctx.runtime.redis.pubsub()
        await pubsub.subscribe(channel(ctx.runtime, user.id))
        try:
            async for message in pubsub.listen():
                if message["type"] == "message":
                    yield _notice(json.loads(message["data"]))
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


def _notice(raw: dict[str, object]) -> LifecycleNotice:
    data = raw["data"] if isinstance(raw["data"], dict) else {}
    booking_id = data.get("booking_id")
    return LifecycleNotice(
        id=strawberry.ID(str(raw["id"])),
        name=str(raw["name"]),
        version=int(str(raw["version"])),
        occurred_at=datetime.fromisoformat(str(raw["occurred_at"])),
        booking_id=relay.GlobalID("Booking", str(booking_id)) if booking_id else None,
        data=JSON(data),
    )


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(subscription=Subscription)
