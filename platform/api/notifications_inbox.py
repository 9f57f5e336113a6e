"""The viewer's in-app notifications: listed newest first, counted, marked read, and
pushed as they are added (`notificationAdded`, through the Redis fan-out)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from datetime import datetime

import strawberry
from beanie import PydanticObjectId
from strawberry import relay
from strawberry.types import Info

from specialistly.api.bookings import BookingType
from specialistly.api.context import Context
from specialistly.api.errors import UserError
from specialistly.api.notifications import viewer_messages
from specialistly.api.pagination import Connection, paginate
from specialistly.core.bookings import Booking, party
from specialistly.features import notifications_inbox as inbox
from specialistly.features.notifications import notifications_channel
from specialistly.hookspecs import GraphQLContribution, hookimpl


@strawberry.type(name="Notification", description="Something the viewer was told in the app.")
class NotificationType(relay.Node):
    id: relay.NodeID[str]
    kind: str = strawberry.field(description="The event it tells of, e.g. booking.cancelled.")
    title: str
    body: str
    link: str | None = strawberry.field(description="The frontend's page about it.")
    created_at: datetime
    read_at: datetime | None
    _booking_id: strawberry.Private[str | None]

    @strawberry.field
    def read(self) -> bool:
        return self.read_at is not None

    @strawberry.field(description="The booking it is about, as it is now; null if none.")
    async def booking(self, info: Info[Context, None]) -> BookingType | None:
        viewer = await info.context.viewer()
        if self._booking_id is None or viewer is None:
            return None
        # Through the loader: a page often tells of one booking several times.
        loader = info.context.loaders.by_id(Booking)
        booking = await loader.load(PydanticObjectId(self._booking_id))
        if booking is None or party(booking, viewer) is None:
            return None
        return BookingType.of(booking)

    @classmethod
    def of(cls, n: inbox.Notification) -> NotificationType:
        return cls(
            id=str(n.id),
            kind=n.kind,
            title=n.title,
            body=n.body,
            link=n.link,
            created_at=n.created_at,
            read_at=n.read_at,
            _booking_id=str(n.booking_id) if n.booking_id else None,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[NotificationType | None]:
        viewer = await info.context.viewer()
        found: list[NotificationType | None] = []
        for raw_id in node_ids:
            n = await inbox.Notification.get(raw_id) if PydanticObjectId.is_valid(raw_id) else None
            visible = n is not None and viewer is not None and n.user_id == viewer.id
            found.append(cls.of(n) if n is not None and visible else None)
        return found


@strawberry.type
class NotificationPayload:
    notification: NotificationType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MarkAllNotificationsReadPayload:
    marked: int = strawberry.field(default=0, description="How many were unread.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Query:
    @strawberry.field(description="The viewer's notifications, newest first.")
    async def notifications(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        unread_only: bool = False,
    ) -> Connection[NotificationType]:
        user = await info.context.require_user()
        assert user.id is not None
        page = await paginate(
            inbox.Notification,
            inbox.notification_filter(user.id, unread_only=unread_only),
            sort=[("created_at", -1)],
            first=first,
            after=after,
            max_page=info.context.runtime.settings.page_size_max,
        )
        return page.connection(NotificationType.of)

    @strawberry.field(description="How many of the viewer's notifications are unread.")
    async def unread_notification_count(self, info: Info[Context, None]) -> int:
        user = await info.context.require_user()
        assert user.id is not None
        return await inbox.unread_count(user.id)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Mark one of the viewer's notifications read.")
    async def mark_notification_read(
        self, info: Info[Context, None], id: relay.GlobalID
    ) -> NotificationPayload:
        user = await info.context.require_user()
        assert user.id is not None
        node_id = id.node_id if id.type_name == "Notification" else ""
        return NotificationPayload(
            notification=NotificationType.of(await inbox.mark_read(user.id, node_id))
        )

    @strawberry.mutation(description="Mark every notification of the viewer read.")
    async def mark_all_notifications_read(
        self, info: Info[Context, None]
    ) -> MarkAllNotificationsReadPayload:
        user = await info.context.require_user()
        assert user.id is not None
        return MarkAllNotificationsReadPayload(marked=await inbox.mark_all_read(user.id))


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The viewer's notifications as they are added (one may come twice, with"
        ' the same id, after a failure). Authenticate in connection_init with {"authorization":'
        ' "Bearer <access token>"}.'
    )
    async def notification_added(
        self, info: Info[Context, None]
    ) -> AsyncGenerator[NotificationType, None]:
        ctx = info.context
        async for raw in viewer_messages(ctx, notifications_channel):
            # The operation lasts as long as the subscription: what its loaders read for
            # one notification is stale by the next.
            ctx.loaders.forget()
            yield NotificationType.of(inbox.Notification.model_validate(raw))


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation, subscription=Subscription)
