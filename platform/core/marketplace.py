"""The public side of the catalog: finding published specialists and their public page."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beanie import PydanticObjectId

from specialistly.core import read_cache, schedule, validation
from specialistly.core.catalog import MAX_ON_SALE, MAX_PRICE
from specialistly.core.errors import Check, ErrorCode
from specialistly.core.services import Service, ServiceStatus
from specialistly.core.users import Role, SpecialistProfile, User

SORT = [("display_name", 1)]
MAX_TEXT = 100
PAGE_DAYS = 14  # how far ahead a specialist's page looks for free slots
PAGE_SLOTS = 5  # slots shown per service


@dataclass(frozen=True, slots=True)
class PriceRange:
    """Prices of one currency, in its minor units; a bound left out is open."""

    currency: str
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True, slots=True)
class SpecialistFilters:
    expertise: str | None = None
    price: PriceRange | None = None
    text: str | None = None


async def search_query(filters: SpecialistFilters) -> dict[str, Any]:
    """The query for published specialists matching every filter given.

    Its clauses sit side by side at the top level, never under `$and`: FerretDB pushes
    down the equality on `published` (and `expertise`) only from there.
    """
    check = Check()
    query: dict[str, Any] = {"published": True}
    if filters.expertise is not None:
        tag = filters.expertise.strip().lower()
        if len(tag) > 40:
            check.add(ErrorCode.TOO_LONG, "At most 40 characters.", "expertise")
        query["expertise"] = tag
    prices = _price_query(check, filters.price) if filters.price is not None else None
    text = (filters.text or "").strip()
    if len(text) > MAX_TEXT:
        check.add(ErrorCode.TOO_LONG, f"At most {MAX_TEXT} characters.", "text")
    elif text:
        # FerretDB has no $text index; an escaped case-insensitive regex is the portable way.
        pattern = {"$regex": re.escape(text), "$options": "i"}
        query["$or"] = [{key: pattern} for key in ("display_name", "headline", "bio")]
    check.raise_if_any()
    if prices is not None:
        offering = await Service.get_pymongo_collection().distinct("specialist_id", prices)
        query["user_id"] = {"$in": offering}
    return query


def _price_query(check: Check, price: PriceRange) -> dict[str, Any]:
    """The query for published services priced in the range's currency within its bounds.

    Prices of different currencies are never compared: a specialist matches through a
    service priced in the currency asked for, whatever else they sell.
    """
    currency = validation.currency(check, "price.currency", price.currency)
    for name, value in (("price.min", price.min), ("price.max", price.max)):
        if value is not None and not 0 <= value <= MAX_PRICE:
            check.add(ErrorCode.INVALID, f"This must be between 0 and {MAX_PRICE}.", name)
    if price.min is not None and price.max is not None and price.min > price.max:
        check.add(ErrorCode.INVALID, "The lowest price must not exceed the highest.", "price.min")
    query: dict[str, Any] = {"status": ServiceStatus.PUBLISHED.value, "currency": currency}
    bounds = {op: v for op, v in (("$gte", price.min), ("$lte", price.max)) if v is not None}
    if bounds:
        query["price"] = bounds
    return query


@dataclass(frozen=True, slots=True)
class SpecialistPage:
    profile: SpecialistProfile
    services: list[Service]
    next_slots: dict[PydanticObjectId, list[schedule.Slot]]


# Who is looking, looked up only when it matters (a page not published yet).
Viewer = Callable[[], Awaitable[User | None]]


async def nobody() -> User | None:
    """The viewer of a request without a signed-in user."""
    return None


async def specialist_page(
    slug: str, viewer: Viewer, *, now: datetime | None = None
) -> SpecialistPage | None:
    """A published specialist's profile, first `MAX_ON_SALE` published services and their
    next free slots; None if there is no such published specialist. All of it through the
    read cache (core/read_cache.py).

    The specialist (and admins) may see their own page before publishing it.
    """
    slug = (slug or "").strip()
    profile = await read_cache.profile_by_slug(slug) if len(slug) <= 60 else None
    if profile is None or not (profile.published or _is_owner(await viewer(), profile)):
        return None
    # Publishing checks the cap, but two racing publishes may pass it.
    services = (await read_cache.on_sale(profile.user_id))[:MAX_ON_SALE]
    slots = await schedule.next_slots(services, days=PAGE_DAYS, limit=PAGE_SLOTS, now=now)
    return SpecialistPage(profile, services, slots)


def _is_owner(viewer: User | None, profile: SpecialistProfile) -> bool:
    return viewer is not None and (viewer.id == profile.user_id or viewer.has(Role.ADMIN))
