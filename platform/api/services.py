"""Services in GraphQL: a specialist's offers, editing them and putting them on sale."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from beanie import PydanticObjectId
from strawberry import relay
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.errors import UserError
from specialistly.api.pagination import Connection, paginate
from specialistly.core import catalog
from specialistly.core.catalog import ServiceFields
from specialistly.core.services import AutoRecording, Service, ServiceStatus
from specialistly.core.users import Role, User
from specialistly.features.payments import payout_problem
from specialistly.hookspecs import GraphQLContribution, hookimpl

if TYPE_CHECKING:
    from specialistly.api.accounts import UserType

strawberry.enum(ServiceStatus, name="ServiceStatus")
strawberry.enum(
    AutoRecording,
    name="AutoRecording",
    description="Whether the video provider records the service's meetings from their start:"
    " NONE, LOCAL (on the host's computer) or CLOUD (in the provider's cloud).",
)


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
    durations: list[int] = strawberry.field(
        name="durationMinutesOptions", description="Each a bookable length, shortest first."
    )
    price: int = strawberry.field(description="Minor units of `currency`; 0 means free.")
    currency: str
    buffer_before: int = strawberry.field(name="bufferBeforeMinutes")
    buffer_after: int = strawberry.field(name="bufferAfterMinutes")
    minimum_notice: int = strawberry.field(name="minimumNoticeMinutes")
    horizon_days: int
    slot_interval: int = strawberry.field(name="slotIntervalMinutes")
    video_provider: str
    auto_recording: AutoRecording
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
            auto_recording=s.auto_recording,
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
        found = [await load_service(info, i) for i in node_ids]
        return [cls.of(s) if s and catalog.can_see(viewer, s) else None for s in found]


@strawberry.type(name="VideoProvider")
class VideoProviderType:
    name: str
    display_name: str


# --------------------------------------------------------------------------- payloads, inputs


@strawberry.type
class ServicePayload:
    service: ServiceType | None = None
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
    durations: list[int] = strawberry.field(name="durationMinutesOptions")
    price: int
    currency: str | None = strawberry.field(
        default=strawberry.UNSET, description="Defaults to the profile's currency."
    )
    description: str | None = strawberry.UNSET
    buffer_before: int | None = strawberry.field(
        default=strawberry.UNSET, name="bufferBeforeMinutes"
    )
    buffer_after: int | None = strawberry.field(default=strawberry.UNSET, name="bufferAfterMinutes")
    minimum_notice: int | None = strawberry.field(
        default=strawberry.UNSET, name="minimumNoticeMinutes"
    )
    horizon_days: int | None = strawberry.UNSET
    slot_interval: int | None = strawberry.field(
        default=strawberry.UNSET, name="slotIntervalMinutes"
    )
    video_provider: str | None = strawberry.UNSET
    auto_recording: AutoRecording | None = strawberry.field(
        default=strawberry.UNSET, description="NONE unless given."
    )
    policy: CancellationPolicyInput | None = strawberry.UNSET
    max_per_day: int | None = strawberry.UNSET
    max_per_week: int | None = strawberry.UNSET


@strawberry.input(description="Fields left out stay as they are; null clears a cap.")
class UpdateServiceInput:
    id: relay.GlobalID
    title: str | None = strawberry.UNSET
    durations: list[int] | None = strawberry.field(
        default=strawberry.UNSET, name="durationMinutesOptions"
    )
    price: int | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    buffer_before: int | None = strawberry.field(
        default=strawberry.UNSET, name="bufferBeforeMinutes"
    )
    buffer_after: int | None = strawberry.field(default=strawberry.UNSET, name="bufferAfterMinutes")
    minimum_notice: int | None = strawberry.field(
        default=strawberry.UNSET, name="minimumNoticeMinutes"
    )
    horizon_days: int | None = strawberry.UNSET
    slot_interval: int | None = strawberry.field(
        default=strawberry.UNSET, name="slotIntervalMinutes"
    )
    video_provider: str | None = strawberry.UNSET
    auto_recording: AutoRecording | None = strawberry.UNSET
    policy: CancellationPolicyInput | None = strawberry.UNSET
    max_per_day: int | None = strawberry.UNSET
    max_per_week: int | None = strawberry.UNSET


# --------------------------------------------------------------------------- root fields


@strawberry.type
class Query:
    @strawberry.field(description="The logged-in specialist's services, oldest first.")
    async def my_services(
        self,
        info: Info[Context, None],
        status: Annotated[
            list[ServiceStatus] | None, strawberry.argument(description="Any of these statuses.")
        ] = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[ServiceType]:
        user = await info.context.require_user(Role.SPECIALIST)
        query: dict[str, Any] = {"specialist_id": user.id}
        if status:
            query["status"] = {"$in": [s.value for s in status]}
        page = await paginate(
            Service,
            query,
            sort=[("created_at", 1)],
            first=first,
            after=after,
            max_page=info.context.runtime.settings.page_size_max,
        )
        return page.connection(ServiceType.of)

    @strawberry.field(description="The video providers a service may use.")
    def video_providers(self, info: Info[Context, None]) -> list[VideoProviderType]:
        return [
            VideoProviderType(name=p.name, display_name=p.display_name)
            for p in info.context.runtime.providers.video.all()
        ]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="A new draft service of the logged-in specialist.")
    async def create_service(
        self, info: Info[Context, None], input: CreateServiceInput
    ) -> ServicePayload:
        return await _as_specialist(
            info,
            lambda user: catalog.create_service(
                user, _service_fields(input), video_providers=_video_names(info)
            ),
        )

    @strawberry.mutation
    async def update_service(
        self, info: Info[Context, None], input: UpdateServiceInput
    ) -> ServicePayload:
        return await _as_specialist(
            info,
            lambda user: catalog.update_service(
                user,
                node_id(input.id, "Service"),
                _service_fields(input),
                video_providers=_video_names(info),
                payout_problem=payout_problem(info.context.runtime),
            ),
        )

    @strawberry.mutation(
        description="Put a draft service on sale: public and bookable. An archived one stays"
        " off sale (ARCHIVED)."
    )
    async def publish_service(
        self, info: Info[Context, None], id: relay.GlobalID
    ) -> ServicePayload:
        problem = payout_problem(info.context.runtime)
        return await _as_specialist(
            info,
            lambda user: catalog.publish_service(
                user, node_id(id, "Service"), payout_problem=problem
            ),
        )

    @strawberry.mutation(description="Take the service off sale for good; its bookings keep it.")
    async def archive_service(
        self, info: Info[Context, None], id: relay.GlobalID
    ) -> ServicePayload:
        return await _as_specialist(
            info, lambda user: catalog.archive_service(user, node_id(id, "Service"))
        )


# --------------------------------------------------------------------------- helpers


async def _as_specialist(
    info: Info[Context, None], change: Callable[[User], Awaitable[Service]]
) -> ServicePayload:
    """Run a change of the logged-in specialist's services."""
    service = await change(await info.context.require_user(Role.SPECIALIST))
    return ServicePayload(service=ServiceType.of(service))


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


def node_id(global_id: relay.GlobalID, type_name: str) -> str:
    """The id inside a global id of the expected type; "" (found nowhere) otherwise."""
    return global_id.node_id if global_id.type_name == type_name else ""


async def load_service(info: Info[Context, None], service_id: str) -> Service | None:
    if not PydanticObjectId.is_valid(service_id):
        return None
    return await info.context.loaders.service.load(PydanticObjectId(service_id))


def _video_names(info: Info[Context, None]) -> list[str]:
    return info.context.runtime.providers.video.names()


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation)
