"""What a specialist offers: services (create, edit, publish, archive).

Every operation validates its whole input first and writes nothing when anything is wrong,
so a payload's errors always describe an unchanged database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypedDict

from beanie import PydanticObjectId

from specialistly.core import accounts, read_cache, validation
from specialistly.core.clock import utcnow
from specialistly.core.errors import Check, DomainError, ErrorCode
from specialistly.core.locks import edit_lock
from specialistly.core.services import AutoRecording, CancellationPolicy, Service, ServiceStatus
from specialistly.core.users import Role, SpecialistProfile, User

STEP = 5  # minutes: bookings claim five-minute cells, so every length is a multiple of it
DAY_MINUTES = 24 * 60
MAX_PRICE = 10_000_000
MAX_DURATIONS = 10
MAX_DURATION = 480  # minutes
MAX_BUFFER = 240
# Services on sale at once per specialist. Their public page computes the next free slots
# of each one, so this bounds the work of one anonymous request (the page reads no more).
MAX_ON_SALE = 20


class PolicyFields(TypedDict, total=False):
    cancel_minutes_before: int
    reschedule_minutes_before: int
    refund_percent: int
    late_refund_percent: int


class ServiceFields(TypedDict, total=False):
    """A service's editable fields; a key left out is not changed (or takes its default)."""

    title: str
    description: str
    durations: list[int]
    price: int
    currency: str
    buffer_before: int
    buffer_after: int
    minimum_notice: int
    horizon_days: int
    slot_interval: int
    video_provider: str
    auto_recording: str  # an AutoRecording value
    policy: PolicyFields
    max_per_day: int | None  # None: no cap
    max_per_week: int | None


_NULLABLE = frozenset({"description", "max_per_day", "max_per_week"})

# (low, high, step) of the whole-number fields.
_BOUNDS: dict[str, tuple[int, int, int]] = {
    "price": (0, MAX_PRICE, 1),
    "buffer_before": (0, MAX_BUFFER, STEP),
    "buffer_after": (0, MAX_BUFFER, STEP),
    "minimum_notice": (0, 30 * DAY_MINUTES, STEP),
    "horizon_days": (1, 365, 1),
    "slot_interval": (STEP, 240, STEP),
    "max_per_day": (1, 100, 1),
    "max_per_week": (1, 500, 1),
    "cancel_minutes_before": (0, 30 * DAY_MINUTES, 1),
    "reschedule_minutes_before": (0, 30 * DAY_MINUTES, 1),
    "refund_percent": (0, 100, 1),
    "late_refund_percent": (0, 100, 1),
}


# Why a specialist cannot be paid yet (None if they can), asked of the payment provider.
PayoutProblem = Callable[[PydanticObjectId], Awaitable[str | None]]


async def create_service(
    user: User,
    fields: ServiceFields,
    *,
    video_providers: Collection[str],
) -> Service:
    """A new draft service of the user, who must be a specialist."""
    if not user.has(Role.SPECIALIST):
        raise DomainError.of(ErrorCode.FORBIDDEN, "Only a specialist may offer services.")
    assert user.id is not None
    check = Check()
    for key in ("title", "durations", "price"):
        if key not in fields:
            check.add(ErrorCode.REQUIRED, "This field is required.", key)
    if "currency" not in fields:
        profile = await SpecialistProfile.find_one(SpecialistProfile.user_id == user.id)
        fields = {**fields, "currency": profile.currency if profile else "usd"}
    if "video_provider" not in fields:
        default = Service.model_fields["video_provider"].default
        if default in video_providers:
            fields = {**fields, "video_provider": default}
        else:
            check.add(ErrorCode.REQUIRED, "Choose a video provider.", "video_provider")
    values = _validated(check, fields, {}, video_providers)
    check.raise_if_any()
    service = Service(specialist_id=user.id, **values)
    await service.insert()
    return service


async def update_service(
    user: User,
    service_id: str,
    fields: ServiceFields,
    *,
    video_providers: Collection[str],
    payout_problem: PayoutProblem | None = None,
) -> Service:
    """Change the given fields; a published free service becomes paid only once its
    specialist can be paid (PAYOUTS_NOT_READY), as when a paid one is published."""
    service = await owned_service(user, service_id)
    async with edit_lock(Service, service.id):
        service = await owned_service(user, service_id)  # as it is now
        check = Check()
        values = _validated(check, fields, service.model_dump(), video_providers)
        check.raise_if_any()
        becomes_paid = not service.requires_payment and values.get("price", 0) > 0
        if becomes_paid and service.status == ServiceStatus.PUBLISHED:
            await _check_payouts(service, payout_problem, "price")
        if values:
            values["updated_at"] = utcnow()
            await service.set(values)
            await read_cache.service_changed(service)
    if values and service.status == ServiceStatus.PUBLISHED:
        await refresh_price_range(service.specialist_id)
    return service


async def publish_service(
    user: User, service_id: str, *, payout_problem: PayoutProblem | None = None
) -> Service:
    """Put a draft on sale; an archived service stays off sale (ARCHIVED), at most
    `MAX_ON_SALE` are on sale at once (TOO_MANY_ON_SALE), and a paid one waits until its
    specialist can be paid (PAYOUTS_NOT_READY)."""
    service = await owned_service(user, service_id)
    if service.status != ServiceStatus.PUBLISHED:
        on_sale = await Service.find(  # one mapping: Beanie would join two under `$and`
            {"specialist_id": service.specialist_id, "status": ServiceStatus.PUBLISHED.value}
        ).count()
        if on_sale >= MAX_ON_SALE:
            raise DomainError.of(
                ErrorCode.TOO_MANY_ON_SALE,
                f"At most {MAX_ON_SALE} services can be on sale at once; archive one first.",
                "id",
            )
        if service.requires_payment:
            await _check_payouts(service, payout_problem, "id")
    return await _set_status(service, ServiceStatus.PUBLISHED)


async def _check_payouts(
    service: Service, payout_problem: PayoutProblem | None, field: str
) -> None:
    """PAYOUTS_NOT_READY (on `field`) unless the specialist can be paid for a paid service."""
    if payout_problem is None:
        return
    problem = await payout_problem(service.specialist_id)
    if problem:
        raise DomainError.of(ErrorCode.PAYOUTS_NOT_READY, problem, field)


async def archive_service(user: User, service_id: str) -> Service:
    """Take the service off sale for good; existing bookings keep it."""
    return await _set_status(await owned_service(user, service_id), ServiceStatus.ARCHIVED)


async def _set_status(service: Service, status: ServiceStatus) -> Service:
    """Move an owned service (as read by the caller) to status."""
    if service.status == status:
        return service
    # Conditional, so a publish racing an archive cannot undo it; under the service's lock,
    # since FerretDB applies the condition and the write without isolation.
    async with edit_lock(Service, service.id):
        changed = await Service.get_pymongo_collection().update_one(
            {"_id": service.id, "status": {"$ne": ServiceStatus.ARCHIVED.value}},
            {"$set": {"status": status.value, "updated_at": utcnow()}},
        )
        await read_cache.service_changed(service)
    if not changed.matched_count:
        raise DomainError.of(
            ErrorCode.ARCHIVED, "An archived service cannot go on sale again.", "id"
        )
    await refresh_price_range(service.specialist_id)
    found = await Service.get(service.id)
    assert found is not None
    return found


async def owned_service(user: User, service_id: str) -> Service:
    """The service, if the user owns it or is an admin; NOT_FOUND for everyone else."""
    service = await find_service(service_id)
    if service is None or not can_edit(user, service):
        raise service_not_found()  # the same answer as for a missing one: ids are not probed
    return service


def service_not_found(field: str = "id") -> DomainError:
    return DomainError.of(ErrorCode.NOT_FOUND, "There is no such service.", field)


async def find_service(service_id: str) -> Service | None:
    if not PydanticObjectId.is_valid(service_id):
        return None
    return await Service.get(PydanticObjectId(service_id))


def can_edit(user: User | None, service: Service) -> bool:
    return user is not None and (service.specialist_id == user.id or user.has(Role.ADMIN))


def is_public(service: Service) -> bool:
    """Published and archived services are public (bookings refer to them); drafts are not."""
    return service.status != ServiceStatus.DRAFT


def can_see(user: User | None, service: Service) -> bool:
    return is_public(service) or can_edit(user, service)


async def refresh_price_range(specialist_id: PydanticObjectId) -> None:
    """Copy the lowest and highest published price onto the profile, for marketplace filters.

    The prices are read holding the profile's lock, so that of two services changed at once
    the one that writes last has read both changes."""
    profile = await SpecialistProfile.find_one(SpecialistProfile.user_id == specialist_id)
    if profile is None:
        return
    async with edit_lock(SpecialistProfile, profile.id):
        query = {"specialist_id": specialist_id, "status": ServiceStatus.PUBLISHED.value}
        cursor = Service.get_pymongo_collection().find(query, {"price": 1, "_id": 0})
        prices = [doc["price"] for doc in await cursor.to_list()]
        lowest, highest = min(prices, default=None), max(prices, default=None)
        await accounts.set_profile(profile, {"price_min": lowest, "price_max": highest})


def _validated(
    check: Check,
    fields: ServiceFields,
    current: dict[str, Any],
    video_providers: Collection[str],
) -> dict[str, Any]:
    """The given fields, cleaned, for storing; problems go to check."""
    values: dict[str, Any] = {}
    given: dict[str, Any] = dict(fields)
    for key, value in given.items():
        if value is None and key not in _NULLABLE:
            check.add(ErrorCode.INVALID, "This cannot be null.", key)
        elif key == "title":
            values[key] = validation.text(check, key, value, max_length=120, multiline=False)
        elif key == "description":
            values[key] = validation.text(check, key, value, max_length=5000, required=False)
        elif key == "durations":
            values[key] = _durations(check, key, value)
        elif key == "currency":
            values[key] = validation.currency(check, key, value)
        elif key == "video_provider":
            if value not in video_providers:
                known = ", ".join(sorted(video_providers)) or "none"
                check.add(
                    ErrorCode.INVALID, f"Unknown video provider; choose one of: {known}.", key
                )
            values[key] = value
        elif key == "auto_recording":
            values[key] = _auto_recording(check, key, value)
        elif key == "policy":
            values[key] = _policy(check, value, current.get("policy"))
        elif key in ("max_per_day", "max_per_week") and value is None:
            values[key] = None
        else:
            values[key] = _whole(check, key, value, *_BOUNDS[key])
    merged = {**current, **values}
    notice, horizon = merged.get("minimum_notice"), merged.get("horizon_days")
    if notice is None:
        notice = Service.model_fields["minimum_notice"].default
    if horizon is None:
        horizon = Service.model_fields["horizon_days"].default
    if notice >= horizon * DAY_MINUTES and {"minimum_notice", "horizon_days"} & given.keys():
        check.add(
            ErrorCode.NOTICE_BEYOND_HORIZON,
            "The minimum notice must be shorter than the booking horizon.",
            "minimum_notice",
        )
    day_cap, week_cap = merged.get("max_per_day"), merged.get("max_per_week")
    if day_cap is not None and week_cap is not None and day_cap > week_cap:
        check.add(ErrorCode.INVALID, "The daily cap cannot exceed the weekly cap.", "max_per_day")
    return values


def _whole(check: Check, name: str, value: object, low: int, high: int, step: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        check.add(ErrorCode.INVALID, "This must be a whole number.", name)
        return 0
    if not low <= value <= high:
        check.add(ErrorCode.INVALID, f"This must be between {low} and {high}.", name)
    elif value % step:
        check.add(ErrorCode.INVALID, f"This must be a multiple of {step}.", name)
    return value


def _auto_recording(check: Check, name: str, value: object) -> str:
    choices = [choice.value for choice in AutoRecording]
    if value not in choices:
        check.add(ErrorCode.INVALID, f"Choose one of: {', '.join(choices)}.", name)
        return AutoRecording.NONE.value
    return str(value)


def _durations(check: Check, name: str, values: object) -> list[int]:
    if not isinstance(values, list) or not values:
        check.add(ErrorCode.REQUIRED, "Give at least one duration.", name)
        return []
    if len(values) > MAX_DURATIONS:
        check.add(ErrorCode.INVALID, f"At most {MAX_DURATIONS} durations.", name)
        return []
    for i, value in enumerate(values):
        _whole(check, f"{name}.{i}", value, STEP, MAX_DURATION, STEP)
    return sorted(set(values))


def _policy(check: Check, given: PolicyFields, current: dict[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {**CancellationPolicy().model_dump(), **(current or {})}
    for key, value in given.items():
        merged[key] = _whole(check, f"policy.{key}", value, *_BOUNDS[key])
    if merged["late_refund_percent"] > merged["refund_percent"]:
        check.add(
            ErrorCode.INVALID,
            "A late cancellation cannot refund more than a timely one.",
            "policy.late_refund_percent",
        )
    return merged
