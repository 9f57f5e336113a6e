"""Bookings: a customer's hold on a specialist's time, and the state machine it follows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from specialistly.core import claims, events, locks, slots, validation
from specialistly.core.availability import Availability
from specialistly.core.clock import as_utc, utcnow
from specialistly.core.errors import INVALID, NOT_FOUND, Check, DomainError
from specialistly.core.events import OutboxEvent, new_event
from specialistly.core.services import CancellationPolicy, Service, ServiceStatus
from specialistly.core.users import Role, User


class BookingStatus(StrEnum):
    RESERVING = "reserving"  # claiming the slot; never shown, resolved within a request
    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # the payment hold ran out
    REFUNDED = "refunded"
    NO_SHOW = "no_show"


# Which statuses may follow which: the one place that says it.
TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.RESERVING: frozenset({BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED}),
    BookingStatus.PENDING_PAYMENT: frozenset(
        {BookingStatus.CONFIRMED, BookingStatus.CANCELLED, BookingStatus.EXPIRED}
    ),
    BookingStatus.CONFIRMED: frozenset(
        {
            BookingStatus.COMPLETED,
            BookingStatus.CANCELLED,
            BookingStatus.REFUNDED,
            BookingStatus.NO_SHOW,
        }
    ),
    BookingStatus.COMPLETED: frozenset({BookingStatus.REFUNDED}),
    BookingStatus.CANCELLED: frozenset({BookingStatus.REFUNDED}),
    BookingStatus.EXPIRED: frozenset(),
    BookingStatus.REFUNDED: frozenset(),
    BookingStatus.NO_SHOW: frozenset({BookingStatus.REFUNDED}),
}

# Statuses whose booking holds its time.
HOLDING = frozenset(
    {BookingStatus.RESERVING, BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED}
)


class MeetingInfo(BaseModel):
    provider: str
    external_id: str
    join_url: str
    host_url: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Booking(Document):
    customer_id: PydanticObjectId
    specialist_id: PydanticObjectId
    service_id: PydanticObjectId
    start: datetime  # UTC
    end: datetime
    claim_start: datetime  # start minus the buffer before
    claim_end: datetime  # end plus the buffer after
    price: int
    currency: str
    customer_timezone: str
    notes: str = ""
    status: BookingStatus = BookingStatus.RESERVING
    idempotency_key: str
    hold_expires_at: datetime | None = None
    video_provider: str
    meeting: MeetingInfo | None = None
    meeting_error: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None  # "customer", "specialist" or "admin"
    # Places under the service's booking limits it holds (see claims.take_places).
    quota_places: list[str] = []
    # Set while a reschedule moves the claim; a stale one is tidied up by the sweeper.
    reschedule_started_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    outbox: list[OutboxEvent] = []

    class Settings:
        name = "bookings"
        indexes = [
            IndexModel([("customer_id", ASCENDING), ("idempotency_key", ASCENDING)], unique=True),
            IndexModel([("specialist_id", ASCENDING), ("claim_start", ASCENDING)]),
            IndexModel([("customer_id", ASCENDING), ("start", DESCENDING)]),
            IndexModel([("status", ASCENDING), ("end", ASCENDING)]),
        ]


class SlotClaim(Document):
    """One five-minute cell of a specialist's time held by one booking.

    The unique index on (specialist, cell) is what makes double booking impossible: two
    bookings whose claims overlap in any cell cannot both be written.
    """

    specialist_id: PydanticObjectId
    cell: datetime
    booking_id: PydanticObjectId

    class Settings:
        name = "slot_claims"
        indexes = [
            IndexModel([("specialist_id", ASCENDING), ("cell", ASCENDING)], unique=True),
            IndexModel([("booking_id", ASCENDING)]),
        ]


# --------------------------------------------------------------------------- the rules

ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
UNKNOWN_SERVICE = "UNKNOWN_SERVICE"
NOT_BOOKABLE = "NOT_BOOKABLE"
SLOT_UNAVAILABLE = "SLOT_UNAVAILABLE"
PAST_SLOT = "PAST_SLOT"
SELF_BOOKING = "SELF_BOOKING"
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
BOOKING_BUSY = "BOOKING_BUSY"
CANCELLATION_TOO_LATE = "CANCELLATION_TOO_LATE"
RESCHEDULE_TOO_LATE = "RESCHEDULE_TOO_LATE"

MAX_NOTES = 2000
MAX_REASON = 500
IDEMPOTENCY_KEY_LENGTH = (8, 100)
# A reservation (or a reschedule) older than this was left by a request that stopped.
ABANDONED_AFTER = timedelta(minutes=1)
# How long a request with a key already in use waits for the first one to finish.
IDEMPOTENCY_WAIT = timedelta(seconds=5)


def _busy() -> DomainError:
    return DomainError.of(BOOKING_BUSY, "This booking is being changed; try again.")


def _label(status: BookingStatus) -> str:
    return status.value.replace("_", " ")


def check_transition(current: BookingStatus, to: BookingStatus) -> None:
    """Raise ILLEGAL_TRANSITION unless TRANSITIONS allows current -> to."""
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(_label(s) for s in TRANSITIONS[current])) or "nothing"
        raise DomainError.of(
            ILLEGAL_TRANSITION,
            f"A {_label(current)} booking cannot become {_label(to)} (it can become: {allowed}).",
        )


class Party(StrEnum):
    CUSTOMER = "customer"
    SPECIALIST = "specialist"
    ADMIN = "admin"


def party(booking: Booking, user: User) -> Party | None:
    """In which capacity the user acts on the booking (the strongest one), or None."""
    if user.has(Role.ADMIN):
        return Party.ADMIN
    if booking.specialist_id == user.id:
        return Party.SPECIALIST
    if booking.customer_id == user.id:
        return Party.CUSTOMER
    return None


def refund_percent(booking: Booking, policy: CancellationPolicy, by: Party, now: datetime) -> int:
    """What cancelling now gives back of the price, per the service's policy."""
    if booking.status != BookingStatus.CONFIRMED or booking.price == 0:
        return 0  # nothing was paid
    if by == Party.SPECIALIST:
        return 100  # the customer loses nothing when the specialist calls it off
    in_time = now <= booking.start - timedelta(minutes=policy.cancel_minutes_before)
    return policy.refund_percent if in_time else policy.late_refund_percent


def _ms(value: datetime) -> datetime:
    """The instant as the database stores it (millisecond precision), for equality filters."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# --------------------------------------------------------------------------- bookable slots


def slot_policy(service: Service, duration_minutes: int) -> slots.SlotPolicy:
    return slots.SlotPolicy(
        duration=timedelta(minutes=duration_minutes),
        interval=timedelta(minutes=service.slot_interval),
        buffer_before=timedelta(minutes=service.buffer_before),
        buffer_after=timedelta(minutes=service.buffer_after),
        minimum_notice=timedelta(minutes=service.minimum_notice),
        horizon=timedelta(days=service.horizon_days),
    )


def _is_open_slot(
    service: Service, availability: Availability, start: datetime, duration: int, now: datetime
) -> bool:
    """Whether start is a slot of the service's grid inside the specialist's hours, after
    the minimum notice and within the horizon.

    Other bookings are left out on purpose: the claim decides those, atomically, and
    answers SLOT_TAKEN.
    """
    # Imported here: schedule reads the Booking documents defined in this module.
    from specialistly.core import schedule

    found = schedule.slots_for(
        service,
        availability,
        [],
        slots.Interval(start, start + claims.CELL),
        duration=duration,
        now=now,
    )
    return any(slot.start == start for slot in found)


async def _check_slot(
    service: Service, start: datetime, duration: int, now: datetime, field: str
) -> Availability:
    if start < now:
        raise DomainError.of(PAST_SLOT, "This time is in the past.", field)
    availability = await Availability.find_one(Availability.specialist_id == service.specialist_id)
    if availability is None or not _is_open_slot(service, availability, start, duration, now):
        raise DomainError.of(
            SLOT_UNAVAILABLE,
            "This time is not a bookable slot of the service (outside the specialist's hours,"
            " too soon, too far ahead or off the slot grid).",
            field,
        )
    return availability


def quota_limits(service: Service, start: datetime, timezone: str) -> list[tuple[str, int]]:
    """The limit counters a booking of the service at start takes a place in."""
    local = start.astimezone(ZoneInfo(timezone)).date()
    limits = []
    if service.max_per_day is not None:
        limits.append((f"{service.id}:day:{local.isoformat()}", service.max_per_day))
    if service.max_per_week is not None:
        year, week, _ = local.isocalendar()
        limits.append((f"{service.id}:week:{year}-W{week:02d}", service.max_per_week))
    return limits


# --------------------------------------------------------------------------- state changes
#
# Every change of a booking below runs holding the booking's lock (see core/locks.py for
# why) and re-reads the booking inside it. The updates stay conditional as well: on
# MongoDB that alone makes them exclusive.


def _collection() -> Any:
    return Booking.get_pymongo_collection()


@asynccontextmanager
async def booking_lock(
    booking_id: PydanticObjectId, *, wait: timedelta = locks.WAIT
) -> AsyncIterator[None]:
    """Be the one writer of the booking until the block ends; BOOKING_BUSY after `wait`."""
    try:
        async with locks.document_lock(Booking, booking_id, wait=wait):
            yield
    except locks.LockTimeoutError:
        raise _busy() from None


def _event(name: str, booking: Booking, **data: Any) -> dict[str, Any]:
    return new_event(name, booking_id=str(booking.id), **data).model_dump()


async def _update(
    booking: Booking, update: dict[str, Any], *, also: dict[str, Any] | None = None
) -> Booking:
    """Apply update if the booking still has the status (and start) it was read with."""
    query = {"_id": booking.id, "status": booking.status.value, "start": _ms(booking.start)}
    raw = await _collection().find_one_and_update(
        {**query, **(also or {})}, update, return_document=ReturnDocument.AFTER
    )
    if raw is None:  # changed by a writer that does not take the lock
        raise _busy()
    changed: Booking = Booking.model_validate(raw)
    return changed


async def _transition(
    booking: Booking,
    to: BookingStatus,
    now: datetime,
    outbox: Sequence[dict[str, Any]],
    **changes: Any,
) -> Booking:
    """The new status and its events in one conditional single-document update."""
    check_transition(booking.status, to)
    return await _update(
        booking,
        {
            "$set": {"status": to.value, "updated_at": now, **changes},
            "$push": {"outbox": {"$each": list(outbox)}},
        },
    )


def _oid(booking_id: PydanticObjectId | str) -> PydanticObjectId:
    if isinstance(booking_id, str):
        if not PydanticObjectId.is_valid(booking_id):
            raise DomainError.of(NOT_FOUND, "There is no such booking.", "id")
        return PydanticObjectId(booking_id)
    return booking_id


async def get_booking(booking_id: PydanticObjectId | str) -> Booking:
    booking = await Booking.get(_oid(booking_id))
    if booking is None or booking.status == BookingStatus.RESERVING:
        raise DomainError.of(NOT_FOUND, "There is no such booking.", "id")
    return booking


async def _release(booking: Booking) -> None:
    """After a booking stopped holding its time: free its cells and its limit places."""
    assert booking.id is not None
    await claims.release(booking.id)
    await claims.release_places(booking.quota_places)


async def confirm(booking_id: PydanticObjectId, *, now: datetime | None = None) -> Booking:
    """PENDING_PAYMENT -> CONFIRMED (the payment arrived); confirming twice is harmless.

    The caller publishes the booking's outbox.
    """
    now = now or utcnow()
    async with booking_lock(_oid(booking_id)):
        booking = await get_booking(booking_id)
        if booking.status == BookingStatus.CONFIRMED:
            return booking
        event = _event(events.BOOKING_CONFIRMED, booking)
        return await _transition(
            booking, BookingStatus.CONFIRMED, now, [event], hold_expires_at=None
        )


# --------------------------------------------------------------------------- create


@dataclass(frozen=True)
class BookingRequest:
    service_id: str
    start: datetime
    duration_minutes: int
    customer_timezone: str
    idempotency_key: str
    notes: str = ""


@dataclass(frozen=True)
class _Checked:
    service: Service
    start: datetime
    notes: str
    availability: Availability


async def create_booking(
    customer: User,
    request: BookingRequest,
    *,
    payment_hold: timedelta,
    now: datetime | None = None,
) -> Booking:
    """Reserve a slot for the customer: PENDING_PAYMENT for a paid service, else CONFIRMED.

    The same idempotency key again returns the booking it made; a request arriving while
    the first is still running waits for it. The caller publishes the booking's outbox.
    """
    now = now or utcnow()
    key = _idempotency_key(request.idempotency_key)
    for _ in range(3):  # again only when an earlier request with this key failed meanwhile
        existing = await Booking.find_one(
            Booking.customer_id == customer.id, Booking.idempotency_key == key
        )
        if existing is None:
            checked = await _check_request(customer, request, now)
            try:
                return await _reserve(customer, request, key, checked, now, payment_hold)
            except DuplicateKeyError:
                existing = await Booking.find_one(
                    Booking.customer_id == customer.id, Booking.idempotency_key == key
                )
        if existing is not None:
            resolved = await _settled(existing, request)
            if resolved is not None:
                return resolved
    raise DomainError.of(
        BOOKING_BUSY, "Another request with this key is still running.", "input.idempotencyKey"
    )


def _idempotency_key(value: str) -> str:
    check = Check()
    key = validation.text(check, "input.idempotencyKey", value, max_length=100)
    low, high = IDEMPOTENCY_KEY_LENGTH
    if not check.problems and len(key) < low:
        check.add(INVALID, f"Use {low} to {high} characters.", "input.idempotencyKey")
    check.raise_if_any()
    return key


async def _check_request(customer: User, request: BookingRequest, now: datetime) -> _Checked:
    check = Check()
    validation.timezone(check, "input.customerTimezone", request.customer_timezone)
    notes = validation.text(
        check, "input.notes", request.notes, max_length=MAX_NOTES, required=False
    )
    if request.start.tzinfo is None:
        check.add(INVALID, "The start must carry a time zone offset.", "input.start")
    service = None
    if PydanticObjectId.is_valid(request.service_id):
        service = await Service.get(PydanticObjectId(request.service_id))
    if service is None:
        check.add(UNKNOWN_SERVICE, "There is no such service.", "input.serviceId")
    elif service.status != ServiceStatus.PUBLISHED:
        check.add(NOT_BOOKABLE, "This service is not open for booking.", "input.serviceId")
    elif service.specialist_id == customer.id:
        check.add(SELF_BOOKING, "You cannot book your own service.", "input.serviceId")
    elif request.duration_minutes not in service.durations:
        choices = ", ".join(str(d) for d in service.durations)
        check.add(INVALID, f"Choose one of: {choices} minutes.", "input.durationMinutes")
    check.raise_if_any()
    assert service is not None
    start = as_utc(request.start)
    availability = await _check_slot(service, start, request.duration_minutes, now, "input.start")
    return _Checked(service, start, notes, availability)


async def _reserve(
    customer: User,
    request: BookingRequest,
    key: str,
    checked: _Checked,
    now: datetime,
    payment_hold: timedelta,
) -> Booking:
    service, start = checked.service, checked.start
    claim = slots.claim_interval(start, slot_policy(service, request.duration_minutes))
    booking = Booking(
        customer_id=customer.id,
        specialist_id=service.specialist_id,
        service_id=service.id,
        start=start,
        end=start + timedelta(minutes=request.duration_minutes),
        claim_start=claim.start,
        claim_end=claim.end,
        price=service.price,
        currency=service.currency,
        customer_timezone=request.customer_timezone.strip(),
        notes=checked.notes,
        status=BookingStatus.RESERVING,
        idempotency_key=key,
        video_provider=service.video_provider,
        created_at=now,
        updated_at=now,
    )
    await booking.insert()  # DuplicateKeyError: this key is in use (the caller handles it)
    assert booking.id is not None
    try:
        places = await claims.take_places(
            quota_limits(service, start, checked.availability.timezone)
        )
        try:
            await claims.claim(
                booking.id, booking.specialist_id, claims.cells(claim.start, claim.end)
            )
        except DomainError:
            await claims.release_places(places)
            raise
    except DomainError:
        await _collection().delete_one({"_id": booking.id})
        raise
    hold = now + payment_hold if service.requires_payment else None
    return await _settle(booking.id, places, now, hold)


async def _settle(
    booking_id: PydanticObjectId, places: list[str], now: datetime, hold: datetime | None
) -> Booking:
    """RESERVING -> CONFIRMED or PENDING_PAYMENT, with its events, in one update."""
    async with booking_lock(booking_id):
        booking = await Booking.get(booking_id)
        if booking is None or booking.status != BookingStatus.RESERVING:
            # The sweeper took it for abandoned (and freed its cells): far too slow a request.
            await claims.release_places(places)
            raise DomainError.of(BOOKING_BUSY, "The booking could not be completed; try again.")
        outbox = [_event(events.BOOKING_CREATED, booking, **_summary(booking))]
        to = BookingStatus.PENDING_PAYMENT if hold else BookingStatus.CONFIRMED
        if to == BookingStatus.CONFIRMED:
            outbox.append(_event(events.BOOKING_CONFIRMED, booking))
        return await _transition(
            booking, to, now, outbox, hold_expires_at=hold, quota_places=places
        )


def _summary(booking: Booking) -> dict[str, Any]:
    return {
        "customer_id": str(booking.customer_id),
        "specialist_id": str(booking.specialist_id),
        "service_id": str(booking.service_id),
        "start": booking.start,
        "end": booking.end,
        "price": booking.price,
        "currency": booking.currency,
    }


async def _settled(existing: Booking, request: BookingRequest) -> Booking | None:
    """The booking an earlier request with the same key made, once it is settled; None if
    that request failed (so this one may try itself)."""
    same = (
        str(existing.service_id) == request.service_id
        and request.start.tzinfo is not None
        and existing.start == _ms(as_utc(request.start))
        and existing.end - existing.start == timedelta(minutes=request.duration_minutes)
    )
    if not same:
        raise DomainError.of(
            IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was used for a different booking.",
            "input.idempotencyKey",
        )
    deadline = utcnow() + IDEMPOTENCY_WAIT
    booking: Booking | None = existing
    while booking is not None and booking.status == BookingStatus.RESERVING:
        if utcnow() > deadline:
            raise DomainError.of(
                BOOKING_BUSY,
                "Another request with this key is still running.",
                "input.idempotencyKey",
            )
        await asyncio.sleep(0.05)
        booking = await Booking.get(existing.id)
    return booking


# --------------------------------------------------------------------------- cancel, move


def _acting(booking: Booking, user: User) -> Party:
    by = party(booking, user)
    if by is None:
        # Not a party: as if the booking did not exist, so ids reveal nothing.
        raise DomainError.of(NOT_FOUND, "There is no such booking.", "id")
    return by


async def _policy(booking: Booking) -> CancellationPolicy:
    service = await Service.get(booking.service_id)
    return service.policy if service else CancellationPolicy()


async def cancel(
    booking_id: PydanticObjectId | str,
    actor: User,
    reason: str | None = None,
    *,
    now: datetime | None = None,
) -> Booking:
    """Cancel as its customer (in time, per the policy), its specialist (before it starts)
    or an admin; the refund owed goes into the event. The caller publishes the outbox."""
    now = now or utcnow()
    check = Check()
    reason = validation.text(check, "reason", reason, max_length=MAX_REASON, required=False)
    check.raise_if_any()
    async with booking_lock(_oid(booking_id)):
        booking = await get_booking(booking_id)
        by = _acting(booking, actor)
        check_transition(booking.status, BookingStatus.CANCELLED)
        policy = await _policy(booking)
        cutoff = booking.start
        if by == Party.CUSTOMER and booking.status == BookingStatus.CONFIRMED:
            cutoff -= timedelta(minutes=policy.cancel_minutes_before)
        if by != Party.ADMIN and now > cutoff:
            raise DomainError.of(
                CANCELLATION_TOO_LATE,
                "It is too late to cancel this booking; please contact the specialist.",
            )
        event = _event(
            events.BOOKING_CANCELLED,
            booking,
            by=by.value,
            reason=reason,
            previous_status=booking.status.value,
            refund_percent=refund_percent(booking, policy, by, now),
        )
        done = await _transition(
            booking,
            BookingStatus.CANCELLED,
            now,
            [event],
            cancelled_at=now,
            cancel_reason=reason or None,
            cancelled_by=by.value,
            quota_places=[],
        )
        await _release(booking)
    return done


async def reschedule(
    booking_id: PydanticObjectId | str,
    actor: User,
    new_start: datetime,
    *,
    now: datetime | None = None,
) -> Booking:
    """Move a booking to another slot of its service, keeping its length.

    The claim moves without a moment of double or no holding: the cells of the new time
    that it does not hold yet are claimed first (SLOT_TAKEN, booking unchanged, if one is
    taken), then the booking is moved in one conditional update, then the cells of the old
    time it no longer needs are released. Asking again for the time it has changes nothing.
    """
    now = now or utcnow()
    field = "newStart"
    if new_start.tzinfo is None:
        raise DomainError.of(INVALID, "The start must carry a time zone offset.", field)
    new_start = as_utc(new_start)
    async with booking_lock(_oid(booking_id)):
        booking = await get_booking(booking_id)
        by = _acting(booking, actor)
        if booking.status not in (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED):
            raise DomainError.of(
                ILLEGAL_TRANSITION, f"A {_label(booking.status)} booking cannot be rescheduled."
            )
        if booking.start == _ms(new_start):
            return booking
        service = await Service.get(booking.service_id)
        if service is None:
            raise DomainError.of(NOT_BOOKABLE, "This service no longer exists.", field)
        cutoff = booking.start
        if by == Party.CUSTOMER:
            cutoff -= timedelta(minutes=service.policy.reschedule_minutes_before)
        if by != Party.ADMIN and now > cutoff:
            raise DomainError.of(
                RESCHEDULE_TOO_LATE,
                "It is too late to reschedule this booking; please contact the specialist.",
            )
        duration = int((booking.end - booking.start).total_seconds()) // 60
        availability = await _check_slot(service, new_start, duration, now, field)
        claim = slots.claim_interval(new_start, slot_policy(service, duration))
        limits = quota_limits(service, new_start, availability.timezone)
        return await _move(booking, by, claim, new_start, duration, limits, now)


async def _move(
    booking: Booking,
    by: Party,
    claim: slots.Interval,
    start: datetime,
    duration: int,
    limits: list[tuple[str, int]],
    now: datetime,
) -> Booking:
    assert booking.id is not None
    field = "newStart"
    # Marks the move until it is over, so that the sweeper tidies up after a crash.
    marker = _ms(now)
    locked = await _update(booking, {"$set": {"reschedule_started_at": marker}})
    old_cells = claims.cells(booking.claim_start, booking.claim_end)
    new_cells = claims.cells(claim.start, claim.end)
    wanted = [c for c in new_cells if c not in set(old_cells)]
    new_keys = {k for k, _ in limits}
    kept = [p for p in booking.quota_places if claims.place_key(p) in new_keys]
    held_keys = {claims.place_key(p) for p in kept}
    try:
        extra = await claims.take_places(
            [(k, n) for k, n in limits if k not in held_keys], field=field
        )
        try:
            await claims.claim(booking.id, booking.specialist_id, wanted, field=field)
        except DomainError:
            await claims.release_places(extra)
            raise
    except DomainError:
        await _unmark(booking.id, marker)
        raise
    end = start + timedelta(minutes=duration)
    event = _event(
        events.BOOKING_RESCHEDULED,
        booking,
        by=by.value,
        previous_start=booking.start,
        previous_end=booking.end,
        start=start,
        end=end,
    )
    moved = await _update(
        locked,
        {
            "$set": {
                "start": start,
                "end": end,
                "claim_start": claim.start,
                "claim_end": claim.end,
                "quota_places": kept + extra,
                "updated_at": now,
            },
            "$push": {"outbox": event},
        },
    )
    await claims.release(booking.id, [c for c in old_cells if c not in set(new_cells)])
    await claims.release_places([p for p in booking.quota_places if p not in kept])
    await _unmark(booking.id, marker)
    done: Booking = moved.model_copy(update={"reschedule_started_at": None})
    return done


async def _unmark(booking_id: PydanticObjectId, marker: datetime) -> None:
    await _collection().update_one(
        {"_id": booking_id, "reschedule_started_at": marker},
        {"$set": {"reschedule_started_at": None}},
    )


# --------------------------------------------------------------------------- sweeps

SWEEP_BATCH = 500
_NO_WAIT = timedelta(0)  # a sweep skips a booking being changed; the next sweep retries


async def expire_holds(now: datetime) -> list[PydanticObjectId]:
    """PENDING_PAYMENT bookings whose hold ran out become EXPIRED and free their time."""
    query = {"status": BookingStatus.PENDING_PAYMENT.value, "hold_expires_at": {"$lt": now}}
    changed = []
    for candidate in await Booking.find(query).limit(SWEEP_BATCH).to_list():
        assert candidate.id is not None
        try:
            async with booking_lock(candidate.id, wait=_NO_WAIT):
                booking = await Booking.get(candidate.id)
                hold = booking.hold_expires_at if booking else None
                if booking is None or booking.status != BookingStatus.PENDING_PAYMENT:
                    continue
                if hold is None or hold >= now:
                    continue
                event = _event(events.BOOKING_EXPIRED, booking)
                await _transition(booking, BookingStatus.EXPIRED, now, [event], quota_places=[])
                await _release(booking)
                changed.append(candidate.id)
        except DomainError:
            continue
    return changed


async def complete_past(now: datetime) -> list[PydanticObjectId]:
    """CONFIRMED bookings that have ended become COMPLETED; their past cells are dropped."""
    query = {"status": BookingStatus.CONFIRMED.value, "end": {"$lt": now}}
    changed = []
    for candidate in await Booking.find(query).limit(SWEEP_BATCH).to_list():
        assert candidate.id is not None
        try:
            async with booking_lock(candidate.id, wait=_NO_WAIT):
                booking = await Booking.get(candidate.id)
                if booking is None or booking.status != BookingStatus.CONFIRMED:
                    continue
                if booking.end >= now:
                    continue
                event = _event(events.BOOKING_COMPLETED, booking)
                await _transition(booking, BookingStatus.COMPLETED, now, [event])
                await claims.release(candidate.id)  # its limit places stay: it did happen
                changed.append(candidate.id)
        except DomainError:
            continue
    return changed


async def release_abandoned(now: datetime) -> list[PydanticObjectId]:
    """Clean up after requests that stopped half-way: reservations never settled, moves
    never finished, and claims of bookings that are gone or no longer hold their time."""
    cutoff = now - ABANDONED_AFTER
    changed = []
    stale = {"status": BookingStatus.RESERVING.value, "created_at": {"$lt": cutoff}}
    moving = {"reschedule_started_at": {"$lt": cutoff}}
    for query in (stale, moving):
        for candidate in await Booking.find(query).limit(SWEEP_BATCH).to_list():
            assert candidate.id is not None
            try:
                async with booking_lock(candidate.id, wait=_NO_WAIT):
                    if await _tidy(candidate.id, cutoff):
                        changed.append(candidate.id)
            except DomainError:
                continue
    await claims.release_orphans()
    return changed


async def _tidy(booking_id: PydanticObjectId, cutoff: datetime) -> bool:
    booking = await Booking.get(booking_id)
    if booking is None:
        return False
    if booking.status == BookingStatus.RESERVING and booking.created_at < cutoff:
        # Its request died before settling it (places it took, if any, stay taken).
        await _collection().delete_one({"_id": booking_id})
        await claims.release(booking_id)
        return True
    marker = booking.reschedule_started_at
    if marker is None or marker >= cutoff:
        return False
    # A move died half-way: keep exactly the cells of the booking's current claim.
    if booking.status in HOLDING:
        keep = claims.cells(booking.claim_start, booking.claim_end)
        await SlotClaim.get_pymongo_collection().delete_many(
            {"booking_id": booking_id, "cell": {"$nin": keep}}
        )
    else:
        await claims.release(booking_id)
    await _unmark(booking_id, marker)
    return True


# --------------------------------------------------------------------------- reading


def booking_filter(
    *,
    customer_id: PydanticObjectId | None = None,
    specialist_id: PydanticObjectId | None = None,
    statuses: Sequence[BookingStatus] = (),
    start_from: datetime | None = None,
    start_to: datetime | None = None,
) -> dict[str, Any]:
    """A query for listed bookings (never RESERVING ones) starting in [start_from, start_to)."""
    query: dict[str, Any] = {}
    if customer_id is not None:
        query["customer_id"] = customer_id
    if specialist_id is not None:
        query["specialist_id"] = specialist_id
    shown = [s.value for s in statuses if s != BookingStatus.RESERVING]
    query["status"] = {"$in": shown} if statuses else {"$ne": BookingStatus.RESERVING.value}
    start: dict[str, datetime] = {}
    if start_from is not None:
        start["$gte"] = as_utc(start_from)
    if start_to is not None:
        start["$lt"] = as_utc(start_to)
    if start:
        query["start"] = start
    return query


async def visible_booking(booking_id: str, viewer: User) -> Booking:
    """The booking if the viewer is one of its parties or an admin; NOT_FOUND otherwise."""
    booking = await get_booking(booking_id)
    _acting(booking, viewer)
    return booking
