"""The marketplace in GraphQL: published specialists and their public pages."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.pagination import Connection, paginate
from specialistly.api.services import ServiceType
from specialistly.api.slots import SlotType, viewer_zone
from specialistly.core import marketplace
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
    next_slots: list[SlotType] = strawberry.field(
        description="The first free slots (shortest duration) in the next 14 days."
    )


@strawberry.type(name="SpecialistPage")
class SpecialistPageType:
    specialist: PublicSpecialistType
    offers: list[ServiceOfferType]


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
        page = await marketplace.specialist_page(slug, await info.context.viewer())
        if page is None:
            return None
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


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query)
