"""The catalog in GraphQL: services, working hours, slots, the marketplace, public pages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, cast
from zoneinfo import ZoneInfo

import strawberry
from beanie import PydanticObjectId
from strawberry import relay
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.errors import UserError, graphql_error, user_errors
from specialistly.api.pagination import Connection, paginate
from specialistly.core import catalog, marketplace, schedule, validation, working_hours
from specialistly.core.availability import Availability, HoursRange
from specialistly.core.catalog import ServiceFields
from specialistly.core.errors import Check, DomainError
from specialistly.core.services import Service, ServiceStatus
from specialistly.core.users import Role, SpecialistProfile
from specialistly.core.working_hours import DayHours
from specialistly.hookspecs import GraphQLContribution, hookimpl

if TYPE_CHECKING:
    from specialistly.api.accounts import UserType

strawberry.enum(ServiceStatus, name="ServiceStatus")


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


@strawberry.type(name="CancellationPolicy")
class CancellationPolicyType:
    cancel_minutes_before: int
    reschedule_minutes_before: int
    refund_percent: int
    late_refund_percent: int


@strawberry.type(name="Service")
class ServiceType(relay.Node):
    id: relay.NodeID[str]
    title: str
    description: str
    durations: list[int] = strawberry.field(description="Minutes; each a bookable choice.")
    price: int = strawberry.field(description="Minor units of `currency`; 0 means free.")
    currency: str
    buffer_before: int
    buffer_after: int
    minimum_notice: int = strawberry.field(description="Minutes.")
    horizon_days: int
    slot_interval: int
    video_provider: str
    policy: CancellationPolicyType
    max_per_day: int | None
    max_per_week: int | None
    status: ServiceStatus
    created_at: datetime
    updated_at: datetime
    _specialist_id: strawberry.Private[PydanticObjectId]

    @strawberry.field
    async def specialist(
        self, info: Info[Context, None]
    ) -> Annotated[UserType, strawberry.lazy("specialistly.api.accounts")] | None:
        from specialistly.api.accounts import UserType

        user = await info.context.loaders.user.load(self._specialist_id)
        return UserType.of(user) if user else None

    @classmethod
    def of(cls, s: Service) -> ServiceType:
        return cls(
            id=str(s.id),
            title=s.title,
            description=s.description,
            durations=s.durations,
            price=s.price,
            currency=s.currency,
            buffer_before=s.buffer_before,
            buffer_after=s.buffer_after,
            minimum_notice=s.minimum_notice,
            horizon_days=s.horizon_days,
            slot_interval=s.slot_interval,
            video_provider=s.video_provider,
            policy=CancellationPolicyType(**s.policy.model_dump()),
            max_per_day=s.max_per_day,
            max_per_week=s.max_per_week,
            status=s.status,
            created_at=s.created_at,
            updated_at=s.updated_at,
            _specialist_id=s.specialist_id,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[ServiceType | None]:
        viewer = await info.context.viewer()
        found = [await _load_service(info, i) for i in node_ids]
        return [cls.of(s) if s and catalog.can_see(viewer, s) else None for s in found]


@strawberry.type(name="Slot")
class SlotType:
    start: datetime = strawberry.field(description="UTC.")
    end: datetime
    local_start: str | None = strawberry.field(
        description="ISO 8601 in the `timezone` asked for, when one was."
    )
    local_end: str | None

    @classmethod
    def of(cls, slot: schedule.Slot, zone: ZoneInfo | None) -> SlotType:
        return cls(
            start=slot.start,
            end=slot.end,
            local_start=slot.start.astimezone(zone).isoformat() if zone else None,
            local_end=slot.end.astimezone(zone).isoformat() if zone else None,
        )


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


@strawberry.type(name="VideoProvider")
class VideoProviderType:
    name: str
    display_name: str


@strawberry.type(name="PublicSpecialist")
class PublicSpecialistType:
    slug: str
    display_name: str
    headline: str
    bio: str
    expertise: list[str]
    timezone: str
    currency: str
    photo_url: str | None
    price_min: int | None = strawberry.field(description="Cheapest published service.")
    price_max: int | None

    @classmethod
    def of(cls, p: SpecialistProfile) -> PublicSpecialistType:
        return cls(
            slug=p.slug,
            display_name=p.display_name,
            headline=p.headline,
            bio=p.bio,
            expertise=p.expertise,
            timezone=p.timezone,
            currency=p.currency,
            photo_url=p.photo_url,
            price_min=p.price_min,
            price_max=p.price_max,
        )


@strawberry.type(name="ServiceOffer")
class ServiceOfferType:
    service: ServiceType
    next_slots: list[SlotType] = strawberry.field(
        description="The first free slots (shortest duration) in the next 14 days."
    )


@strawberry.type(name="SpecialistPage")
class SpecialistPageType:
    specialist: PublicSpecialistType
    offers: list[ServiceOfferType]


# --------------------------------------------------------------------------- payloads, inputs


@strawberry.type
class ServicePayload:
    service: ServiceType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AvailabilityPayload:
    availability: AvailabilityType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CancellationPolicyInput:
    cancel_minutes_before: int | None = strawberry.UNSET
    reschedule_minutes_before: int | None = strawberry.UNSET
    refund_percent: int | None = strawberry.UNSET
    late_refund_percent: int | None = strawberry.UNSET


@strawberry.input
class CreateServiceInput:
    title: str
    durations: list[int]
    price: int
    currency: str | None = strawberry.field(
        default=strawberry.UNSET, description="Defaults to the profile's currency."
    )
    description: str | None = strawberry.UNSET
    buffer_before: int | None = strawberry.UNSET
    buffer_after: int | None = strawberry.UNSET
    minimum_notice: int | None = strawberry.UNSET
    horizon_days: int | None = strawberry.UNSET
    slot_interval: int | None = strawberry.UNSET
    video_provider: str | None = strawberry.UNSET
    policy: CancellationPolicyInput | None = strawberry.UNSET
    max_per_day: int | None = strawberry.UNSET
    max_per_week: int | None = strawberry.UNSET


@strawberry.input(description="Fields left out stay as they are; null clears a cap.")
class UpdateServiceInput:
    id: relay.GlobalID
    title: str | None = strawberry.UNSET
    durations: list[int] | None = strawberry.UNSET
    price: int | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    buffer_before: int | None = strawberry.UNSET
    buffer_after: int | None = strawberry.UNSET
    minimum_notice: int | None = strawberry.UNSET
    horizon_days: int | None = strawberry.UNSET
    slot_interval: int | None = strawberry.UNSET
    video_provider: str | None = strawberry.UNSET
    policy: CancellationPolicyInput | None = strawberry.UNSET
    max_per_day: int | None = strawberry.UNSET
    max_per_week: int | None = strawberry.UNSET


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
    @strawberry.field(description="The logged-in specialist's services, oldest first.")
    async def my_services(
        self,
        info: Info[Context, None],
        status: ServiceStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[ServiceType]:
        try:
            user = await info.context.require_user(Role.SPECIALIST)
            query: dict[str, Any] = {"specialist_id": user.id}
            if status is not None:
                query["status"] = status.value
            page = await paginate(
                Service, query, sort=[("created_at", 1)], first=first, after=after
            )
        except DomainError as exc:
            raise graphql_error(exc) from None
        return page.connection(ServiceType.of)

    @strawberry.field(description="The logged-in specialist's working hours, if set.")
    async def my_availability(self, info: Info[Context, None]) -> AvailabilityType | None:
        try:
            user = await info.context.require_user(Role.SPECIALIST)
        except DomainError as exc:
            raise graphql_error(exc) from None
        assert user.id is not None
        found = await working_hours.availability_of(user.id)
        return AvailabilityType.of(found) if found else None

    @strawberry.field(description="The video providers a service may use.")
    def video_providers(self, info: Info[Context, None]) -> list[VideoProviderType]:
        return [
            VideoProviderType(name=p.name, display_name=p.display_name)
            for p in info.context.runtime.providers.video.all()
        ]

    @strawberry.field(
        description="Bookable start times of a service within [from, to) (at most 62 days),"
        " in UTC and, given a `timezone`, also as local times there."
    )
    async def slots(
        self,
        info: Info[Context, None],
        service_id: relay.GlobalID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        timezone: str | None = None,
        duration: int | None = None,
    ) -> list[SlotType]:
        try:
            zone = _viewer_zone(timezone)
            wanted = schedule.window(from_, to)
            service = await _load_service(info, _node_id(service_id, "Service"))
            if service is None or not catalog.can_see(await info.context.viewer(), service):
                raise catalog.SERVICE_NOT_FOUND
            found = await schedule.service_slots(service, wanted, duration=duration)
        except DomainError as exc:
            raise graphql_error(exc) from None
        return [SlotType.of(s, zone) for s in found]

    @strawberry.field(description="Published specialists, by name, matching every filter.")
    async def specialists(
        self,
        first: int = 20,
        after: str | None = None,
        expertise: str | None = None,
        price_min: int | None = None,
        price_max: int | None = None,
        text: str | None = None,
    ) -> Connection[PublicSpecialistType]:
        filters = marketplace.SpecialistFilters(expertise, price_min, price_max, text)
        try:
            query = marketplace.search_query(filters)
            page = await paginate(
                SpecialistProfile, query, sort=marketplace.SORT, first=first, after=after
            )
        except DomainError as exc:
            raise graphql_error(exc) from None
        return page.connection(PublicSpecialistType.of)

    @strawberry.field(description="A specialist's public page, or null.")
    async def specialist(
        self, info: Info[Context, None], slug: str, timezone: str | None = None
    ) -> SpecialistPageType | None:
        try:
            zone = _viewer_zone(timezone)
            page = await marketplace.specialist_page(slug, await info.context.viewer())
        except DomainError as exc:
            if exc is marketplace.SPECIALIST_NOT_FOUND:
                return None
            raise graphql_error(exc) from None
        return SpecialistPageType(
            specialist=PublicSpecialistType.of(page.profile),
            offers=[
                ServiceOfferType(
                    service=ServiceType.of(s),
                    next_slots=[SlotType.of(x, zone) for x in page.next_slots.get(s.id, [])],  # type: ignore[arg-type]
                )
                for s in page.services
            ],
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="A new draft service of the logged-in specialist.")
    async def create_service(
        self, info: Info[Context, None], input: CreateServiceInput
    ) -> ServicePayload:
        try:
            user = await info.context.require_user(Role.SPECIALIST)
            service = await catalog.create_service(
                user, _service_fields(input), video_providers=_video_names(info)
            )
        except DomainError as exc:
            return ServicePayload(errors=user_errors(exc))
        return ServicePayload(service=ServiceType.of(service))

    @strawberry.mutation
    async def update_service(
        self, info: Info[Context, None], input: UpdateServiceInput
    ) -> ServicePayload:
        try:
            user = await info.context.require_user(Role.SPECIALIST)
            service = await catalog.update_service(
                user,
                _node_id(input.id, "Service"),
                _service_fields(input),
                video_providers=_video_names(info),
            )
        except DomainError as exc:
            return ServicePayload(errors=user_errors(exc))
        return ServicePayload(service=ServiceType.of(service))

    @strawberry.mutation(description="Put the service on sale: public and bookable.")
    async def publish_service(
        self, info: Info[Context, None], id: relay.GlobalID
    ) -> ServicePayload:
        try:
            user = await info.context.require_user(Role.SPECIALIST)
            service = await catalog.publish_service(user, _node_id(id, "Service"))
        except DomainError as exc:
            return ServicePayload(errors=user_errors(exc))
        return ServicePayload(service=ServiceType.of(service))

    @strawberry.mutation(description="Take the service off sale; its bookings keep it.")
    async def archive_service(
        self, info: Info[Context, None], id: relay.GlobalID
    ) -> ServicePayload:
        try:
            user = await info.context.require_user(Role.SPECIALIST)
            service = await catalog.archive_service(user, _node_id(id, "Service"))
        except DomainError as exc:
            return ServicePayload(errors=user_errors(exc))
        return ServicePayload(service=ServiceType.of(service))

    @strawberry.mutation(description="Replace the weekly hours; date overrides are kept.")
    async def set_weekly_hours(
        self, info: Info[Context, None], input: WeeklyHoursInput
    ) -> AvailabilityPayload:
        days = [DayHours(d.weekday.value, [(r.start, r.end) for r in d.ranges]) for d in input.days]
        try:
            user = await info.context.require_user(Role.SPECIALIST)
            found = await working_hours.set_weekly_hours(user, input.timezone, days)
        except DomainError as exc:
            return AvailabilityPayload(errors=user_errors(exc))
        return AvailabilityPayload(availability=AvailabilityType.of(found))

    @strawberry.mutation(description="Replace one date's hours (no ranges: a day off).")
    async def set_date_override(
        self, info: Info[Context, None], input: DateOverrideInput
    ) -> AvailabilityPayload:
        try:
            user = await info.context.require_user(Role.SPECIALIST)
            found = await working_hours.set_date_override(
                user, input.date, [(r.start, r.end) for r in input.ranges]
            )
        except DomainError as exc:
            return AvailabilityPayload(errors=user_errors(exc))
        return AvailabilityPayload(availability=AvailabilityType.of(found))

    @strawberry.mutation(description="Let the weekly hours apply to the date again.")
    async def remove_date_override(
        self, info: Info[Context, None], date: str
    ) -> AvailabilityPayload:
        try:
            user = await info.context.require_user(Role.SPECIALIST)
            found = await working_hours.remove_date_override(user, date)
        except DomainError as exc:
            return AvailabilityPayload(errors=user_errors(exc))
        return AvailabilityPayload(availability=AvailabilityType.of(found))


# --------------------------------------------------------------------------- helpers


def _service_fields(input: CreateServiceInput | UpdateServiceInput) -> ServiceFields:
    """The fields the client gave, in the core's names; null stays null (the core decides)."""
    fields: dict[str, Any] = {}
    for key, value in vars(input).items():
        if key == "id" or value is strawberry.UNSET:
            continue
        if isinstance(value, CancellationPolicyInput):
            value = {k: v for k, v in vars(value).items() if v is not strawberry.UNSET}
        fields[key] = value
    return cast(ServiceFields, fields)


def _node_id(global_id: relay.GlobalID, type_name: str) -> str:
    """The id inside a global id of the expected type; "" (found nowhere) otherwise."""
    return global_id.node_id if global_id.type_name == type_name else ""


async def _load_service(info: Info[Context, None], node_id: str) -> Service | None:
    if not PydanticObjectId.is_valid(node_id):
        return None
    return await info.context.loaders.by_id(Service).load(PydanticObjectId(node_id))


def _video_names(info: Info[Context, None]) -> list[str]:
    return info.context.runtime.providers.video.names()


def _viewer_zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    check = Check()
    name = validation.timezone(check, "timezone", name)
    check.raise_if_any()
    return validation.zone(name)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation)
