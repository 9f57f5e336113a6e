"""The marketplace in GraphQL: published specialists and their public pages."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import strawberry
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.cost import LIST_LENGTH
from specialistly.api.errors import graphql_error
from specialistly.api.pagination import Connection, paginate
from specialistly.api.services import ServiceType
from specialistly.api.slots import DurationMinutes, SlotType, viewer_zone
from specialistly.core import catalog, marketplace, schedule
from specialistly.core.errors import DomainError
from specialistly.core.services import Service
from specialistly.core.users import SpecialistProfile
from specialistly.hookspecs import GraphQLContribution, hookimpl


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
    _service: strawberry.Private[Service]
    _shortest: strawberry.Private[list[schedule.Slot]]
    _zone: strawberry.Private[ZoneInfo | None]

    @strawberry.field(
        description=f"The first free slots in the next {marketplace.PAGE_DAYS} days, in UTC and"
        " in the page's `timezone`.",
        metadata={LIST_LENGTH: lambda _: marketplace.PAGE_SLOTS},
    )
    async def next_slots(
        self,
        duration_minutes: DurationMinutes = None,
    ) -> list[SlotType]:
        if duration_minutes is None or duration_minutes == self._service.durations[0]:
            found = self._shortest
        else:
            try:
                found = (
                    await schedule.next_slots(
                        [self._service],
                        days=marketplace.PAGE_DAYS,
                        limit=marketplace.PAGE_SLOTS,
                        duration=duration_minutes,
                    )
                )[self._service.id]  # type: ignore[index]
            except DomainError as exc:
                raise graphql_error(exc) from None
        return [SlotType.of(slot, self._zone) for slot in found]


@strawberry.type(name="SpecialistPage")
class SpecialistPageType:
    specialist: PublicSpecialistType
    offers: list[ServiceOfferType] = strawberry.field(
        description=f"The published services, at most {catalog.MAX_ON_SALE}.",
        metadata={LIST_LENGTH: lambda _: catalog.MAX_ON_SALE},
    )


@strawberry.input(name="PriceRangeInput")
class PriceRangeInput:
    currency: str = strawberry.field(
        description="ISO 4217 code; only services priced in this currency match."
    )
    min: int | None = strawberry.field(default=None, description="Lowest price, minor units.")
    max: int | None = strawberry.field(default=None, description="Highest price, minor units.")


@strawberry.type
class Query:
    @strawberry.field(description="Published specialists, by name, matching every filter.")
    async def specialists(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        expertise: str | None = None,
        price: Annotated[
            PriceRangeInput | None,
            strawberry.argument(
                description="Specialists with a published service priced in this currency"
                " between these bounds (both included)."
            ),
        ] = None,
        text: str | None = None,
    ) -> Connection[PublicSpecialistType]:
        prices = (
            None if price is None else marketplace.PriceRange(price.currency, price.min, price.max)
        )
        filters = marketplace.SpecialistFilters(expertise, prices, text)
        query = await marketplace.search_query(filters)
        page = await paginate(
            SpecialistProfile,
            query,
            sort=marketplace.SORT,
            first=first,
            after=after,
            max_page=info.context.runtime.settings.page_size_max,
        )
        return page.connection(PublicSpecialistType.of)

    @strawberry.field(description="A specialist's public page, or null.")
    async def specialist(
        self, info: Info[Context, None], slug: str, timezone: str | None = None
    ) -> SpecialistPageType | None:
        zone = viewer_zone(timezone)
        page = await marketplace.specialist_page(slug, info.context.viewer)
        if page is None:
            return None
        return SpecialistPageType(
            specialist=PublicSpecialistType.of(page.profile),
            offers=[
                ServiceOfferType(
                    service=ServiceType.of(s),
                    _service=s,
                    _shortest=page.next_slots.get(s.id, []),  # type: ignore[arg-type]
                    _zone=zone,
                )
                for s in page.services
            ],
        )


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query)
