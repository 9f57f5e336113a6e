"""Bookings in GraphQL: create, cancel and reschedule; the viewer's lists; the Booking node."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, TypedDict
from zoneinfo import ZoneInfo

import strawberry
from beanie import PydanticObjectId
from strawberry import relay
from strawberry.types import Info

from specialistly.api.accounts import UserType
from specialistly.api.context import Context
from specialistly.api.errors import UserError
from specialistly.api.local_times import LocalDateTimeType
from specialistly.api.pagination import Connection, paginate
from specialistly.api.payments import PaymentType
from specialistly.api.services import node_id
from specialistly.core import booking_changes, bookings, reservations
from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.users import Role, User
from specialistly.features import meetings
from specialistly.features.payments import payment_starter
from specialistly.hookspecs import GraphQLContribution, hookimpl

if TYPE_CHECKING:
    from specialistly.api.services import ServiceType


@strawberry.enum(name="BookingStatus")
class BookingStatusType(Enum):
    # RESERVING is left out: it lasts one request and is never shown.
    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    NO_SHOW = "no_show"


strawberry.enum(
    meetings.MeetingStatus,
    name="MeetingStatus",
    description="Where a booking's meeting stands: PENDING while a confirmed booking waits"
    " for its provider, FAILED once the provider gave up (the specialist may then set a"
    " link), MANUAL for the specialist's own link, NONE when no meeting is on its way.",
)


@strawberry.type(name="BookingMeeting")
class MeetingType:
    provider: str
    _booking: strawberry.Private[Booking]

    @strawberry.field(description="Only the customer and the specialist see the link.")
    async def join_url(self, info: Info[Context, None]) -> str | None:
        viewer = await info.context.viewer()
        parties = (self._booking.customer_id, self._booking.specialist_id)
        meeting = self._booking.meeting
        if viewer is None or viewer.id not in parties or meeting is None:
            return None
        return meeting.join_url

    @strawberry.field(
        description="The host's link (it starts the meeting as its host): only the specialist"
        " sees it, and only if the provider has one. A provider whose host link carries a"
        " secret that expires (Zoom) is asked for a fresh one each time; null when it cannot"
        " be reached."
    )
    async def start_url(self, info: Info[Context, None]) -> str | None:
        viewer = await info.context.viewer()
        if viewer is None or viewer.id != self._booking.specialist_id:
            return None
        return await meetings.host_link(self._booking, info.context.runtime)


@strawberry.type(name="Booking")
class BookingType(relay.Node):
    id: relay.NodeID[str]
    status: BookingStatusType
    start: datetime
    end: datetime
    duration_minutes: int
    price: int = strawberry.field(description="In minor units of `currency`.")
    currency: str
    customer_timezone: str
    notes: str
    hold_expires_at: datetime | None = strawberry.field(
        description="When an unpaid booking gives its time back."
    )
    created_at: datetime
    cancelled_at: datetime | None
    cancel_reason: str | None
    no_show_at: datetime | None = strawberry.field(
        description="When the specialist recorded that the customer did not come (status NO_SHOW)."
    )
    service_id: relay.GlobalID
    _doc: strawberry.Private[Booking]

    @strawberry.field(description="The start in the customer's time zone.")
    def start_local(self) -> LocalDateTimeType:
        return LocalDateTimeType.of(self.start, ZoneInfo(self.customer_timezone))

    @strawberry.field(description="The end in the customer's time zone.")
    def end_local(self) -> LocalDateTimeType:
        return LocalDateTimeType.of(self.end, ZoneInfo(self.customer_timezone))

    @strawberry.field(description="The booked service (even if no longer on sale).")
    async def service(
        self, info: Info[Context, None]
    ) -> Annotated[ServiceType, strawberry.lazy("specialistly.api.services")] | None:
        from specialistly.api.services import ServiceType

        service = await info.context.loaders.service.load(self._doc.service_id)
        return ServiceType.of(service) if service else None

    @strawberry.field
    async def customer(self, info: Info[Context, None]) -> UserType | None:
        return await _user(info, self._doc.customer_id)

    @strawberry.field
    async def specialist(self, info: Info[Context, None]) -> UserType | None:
        return await _user(info, self._doc.specialist_id)

    @strawberry.field
    def meeting(self) -> MeetingType | None:
        meeting = self._doc.meeting
        return MeetingType(provider=meeting.provider, _booking=self._doc) if meeting else None

    @strawberry.field(description="Where the meeting stands; both parties see it.")
    def meeting_status(self) -> meetings.MeetingStatus:
        return meetings.meeting_status(self._doc)

    @strawberry.field(description="The payment of a paid booking; null for a free one.")
    def payment(self) -> PaymentType | None:
        payment = self._doc.payment
        return PaymentType.of(payment, self._doc.customer_id) if payment else None

    @classmethod
    def of(cls, b: Booking) -> BookingType:
        return cls(
            id=str(b.id),
            status=BookingStatusType(b.status.value),
            start=b.start,
            end=b.end,
            duration_minutes=int((b.end - b.start).total_seconds()) // 60,
            price=b.price,
            currency=b.currency,
            customer_timezone=b.customer_timezone,
            notes=b.notes,
            hold_expires_at=b.hold_expires_at,
            created_at=b.created_at,
            cancelled_at=b.cancelled_at,
            cancel_reason=b.cancel_reason,
            no_show_at=b.no_show_at,
            service_id=relay.GlobalID("Service", str(b.service_id)),
            _doc=b,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[BookingType | None]:
        viewer = await info.context.viewer()
        found: list[BookingType | None] = []
        for raw_id in node_ids:
            booking = await _visible(raw_id, viewer) if viewer else None
            found.append(cls.of(booking) if booking else None)
        return found


async def _user(info: Info[Context, None], user_id: PydanticObjectId) -> UserType | None:
    user = await info.context.loaders.user.load(user_id)
    return UserType.of(user) if user else None


async def _visible(node_id: str, viewer: User) -> Booking | None:
    try:
        return await bookings.visible_booking(node_id, viewer)
    except DomainError:
        return None


def _booking_id(id: relay.GlobalID) -> str:
    if id.type_name != "Booking":
        raise bookings.booking_not_found()
    return id.node_id


@strawberry.type
class BookingPayload:
    booking: BookingType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateBookingInput:
    service_id: relay.GlobalID
    start: datetime = strawberry.field(description="A slot start, with its UTC offset.")
    duration_minutes: int
    customer_timezone: str = strawberry.field(description="IANA name, e.g. Europe/Berlin.")
    idempotency_key: str = strawberry.field(
        description="8 to 100 characters chosen by the client; sending the same key again"
        " returns the same booking instead of making a second one."
    )
    notes: str = ""


_From = Annotated[
    datetime | None, strawberry.argument(name="from", description="Starting at or after this.")
]
_To = Annotated[
    datetime | None, strawberry.argument(name="to", description="Starting before this.")
]
_Status = Annotated[
    list[BookingStatusType] | None, strawberry.argument(description="Any of these statuses.")
]


class Parties(TypedDict, total=False):
    """Whose bookings a list shows; none given: everyone's."""

    customer_id: PydanticObjectId | None
    specialist_id: PydanticObjectId | None


Scope = Callable[[User], Parties]


async def _bookings_page(
    info: Info[Context, None],
    scope: Scope,
    *,
    roles: tuple[Role, ...] = (),
    first: int,
    after: str | None,
    status: list[BookingStatusType] | None,
    start_from: datetime | None,
    start_to: datetime | None,
) -> Connection[BookingType]:
    """One page, by start time, of the bookings `scope` gives the viewer (it may refuse)."""
    query = bookings.booking_filter(
        **scope(await info.context.require_user(*roles)),
        statuses=[BookingStatus(s.value) for s in status or ()],
        start_from=start_from,
        start_to=start_to,
    )
    limit = info.context.runtime.settings.page_size_max
    page = await paginate(
        Booking, query, sort=[("start", 1)], first=first, after=after, max_page=limit
    )
    return page.connection(BookingType.of)


def _as_customer(viewer: User) -> Parties:
    return {"customer_id": viewer.id}


def _as_specialist(viewer: User) -> Parties:
    return {"specialist_id": viewer.id}


def _as_admin(viewer: User) -> Parties:
    if not viewer.has(Role.ADMIN):
        raise DomainError.of(ErrorCode.FORBIDDEN, "Only an admin may list all bookings.")
    return {}


@strawberry.type
class Query:
    @strawberry.field(
        description="A booking of which the viewer is a party (or any, for admins); null"
        " otherwise, as `node(id)` answers."
    )
    async def booking(self, info: Info[Context, None], id: relay.GlobalID) -> BookingType | None:
        if id.type_name != "Booking":
            return None
        [found] = await BookingType.resolve_nodes(info=info, node_ids=[id.node_id])
        return found

    @strawberry.field(description="The viewer's bookings as a customer, by start time.")
    async def my_bookings(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        status: _Status = None,
        start_from: _From = None,
        start_to: _To = None,
    ) -> Connection[BookingType]:
        return await _bookings_page(
            info,
            _as_customer,
            first=first,
            after=after,
            status=status,
            start_from=start_from,
            start_to=start_to,
        )

    @strawberry.field(description="The bookings of the viewer's services, by start time.")
    async def specialist_bookings(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        status: _Status = None,
        start_from: _From = None,
        start_to: _To = None,
    ) -> Connection[BookingType]:
        return await _bookings_page(
            info,
            _as_specialist,
            roles=(Role.SPECIALIST,),
            first=first,
            after=after,
            status=status,
            start_from=start_from,
            start_to=start_to,
        )

    @strawberry.field(description="All bookings (admins only), by start time.")
    async def bookings(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        status: _Status = None,
        start_from: _From = None,
        start_to: _To = None,
    ) -> Connection[BookingType]:
        return await _bookings_page(
            info,
            _as_admin,
            first=first,
            after=after,
            status=status,
            start_from=start_from,
            start_to=start_to,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Book a slot of a service as the logged-in customer.")
    async def create_booking(
        self, info: Info[Context, None], input: CreateBookingInput
    ) -> BookingPayload:
        ctx = info.context
        request = reservations.BookingRequest(
            service_id=node_id(input.service_id, "Service"),
            start=input.start,
            duration_minutes=input.duration_minutes,
            customer_timezone=input.customer_timezone,
            idempotency_key=input.idempotency_key,
            notes=input.notes,
        )
        customer = await ctx.require_user()
        booking = await reservations.create_booking(
            customer,
            request,
            payment_hold=ctx.runtime.settings.payment_hold,
            start_payment=payment_starter(ctx.runtime, customer),
            can_host=meetings.host_check(ctx.runtime),
        )
        return BookingPayload(booking=BookingType.of(booking))

    @strawberry.mutation(description="Cancel a booking as its customer, specialist or an admin.")
    async def cancel_booking(
        self, info: Info[Context, None], id: relay.GlobalID, reason: str | None = None
    ) -> BookingPayload:
        ctx = info.context
        actor = await ctx.require_user()
        booking = await booking_changes.cancel(_booking_id(id), actor, reason)
        return BookingPayload(booking=BookingType.of(booking))

    @strawberry.mutation(
        description="Move a booking to another slot; asking again for the same slot is a no-op."
    )
    async def reschedule_booking(
        self,
        info: Info[Context, None],
        id: relay.GlobalID,
        start: Annotated[
            datetime, strawberry.argument(description="A slot start, with its UTC offset.")
        ],
    ) -> BookingPayload:
        ctx = info.context
        actor = await ctx.require_user()
        booking = await booking_changes.reschedule(_booking_id(id), actor, start)
        return BookingPayload(booking=BookingType.of(booking))

    @strawberry.mutation(
        description="As the booking's specialist, record that the customer did not come: once"
        " the booking has started (NOT_STARTED before), while it is confirmed or completed."
        " The booking becomes NO_SHOW (`booking.no_show`); asking again changes nothing."
    )
    async def mark_no_show(self, info: Info[Context, None], id: relay.GlobalID) -> BookingPayload:
        actor = await info.context.require_user()
        booking = await booking_changes.mark_no_show(_booking_id(id), actor)
        return BookingPayload(booking=BookingType.of(booking))

    @strawberry.mutation(
        description="The specialist's own meeting link for a confirmed booking whose video"
        " provider made none (after `meeting.failed`); CONFLICT if the provider's exists."
    )
    async def set_meeting_link(
        self, info: Info[Context, None], id: relay.GlobalID, join_url: str
    ) -> BookingPayload:
        actor = await info.context.require_user()
        booking = await meetings.set_manual_link(actor, _booking_id(id), join_url)
        return BookingPayload(booking=BookingType.of(booking))


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation)
