"""Bookings: a customer's hold on a specialist's time, and the state machine it follows.

Creating a booking is in reservations, cancelling and moving one in booking_changes, and
the periodic clean-up in sweeps; they change bookings through the helpers here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Self

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field, model_validator
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from specialistly.core import claims, events, locks, validation
from specialistly.core.clock import utcnow
from specialistly.core.errors import Check, DomainError, ErrorCode
from specialistly.core.events import OutboxEvent, new_event
from specialistly.core.services import CancellationPolicy
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
    # The sweeper completes a booking at its end; its specialist may say afterwards that
    # the customer never came.
    BookingStatus.COMPLETED: frozenset({BookingStatus.REFUNDED, BookingStatus.NO_SHOW}),
    BookingStatus.CANCELLED: frozenset({BookingStatus.REFUNDED}),
    BookingStatus.EXPIRED: frozenset(),
    BookingStatus.REFUNDED: frozenset(),
    BookingStatus.NO_SHOW: frozenset({BookingStatus.REFUNDED}),
}

# Statuses whose booking holds its time.
HOLDING = frozenset(
    {BookingStatus.RESERVING, BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED}
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MeetingInfo(BaseModel):
    provider: str
    external_id: str
    join_url: str
    host_url: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class PaymentStatus(StrEnum):
    PENDING = "pending"  # waiting for the customer to pay
    FAILED = "failed"  # the last attempt failed; the customer may try again within the hold
    SUCCEEDED = "succeeded"
    CANCELLED = "cancelled"  # the booking stopped waiting for it


class PaymentRefund(BaseModel):
    amount: int  # minor units
    external_id: str  # the provider's refund id
    created_at: datetime = Field(default_factory=utcnow)


class BookingPayment(BaseModel):
    """The payment of a paid booking, as its provider started it."""

    provider: str
    external_id: str
    amount: int  # minor units of currency
    currency: str
    status: PaymentStatus = PaymentStatus.PENDING
    client_secret: str | None = None  # what the customer's client pays with
    publishable_key: str | None = None
    failure: str | None = None  # why the last attempt failed
    refunds: dict[str, PaymentRefund] = {}  # by reason: one refund per booking and reason
    dispute: str | None = None  # the status of a dispute the customer opened, if any

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds.values())


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
    # "provider:external id" of `meeting`, top-level so that a provider's webhook finds the
    # booking by an indexed equality (see `meeting_ref`).
    meeting_ref: str | None = None
    meeting_error: str | None = None
    payment: BookingPayment | None = None
    # The service's policy when the booking was made: later edits do not change it.
    policy: CancellationPolicy | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None  # a Party
    no_show_at: datetime | None = None  # when the specialist recorded the customer's no-show
    # Places under the service's booking limits it holds (see claims.take_places).
    quota_places: list[str] = []
    # How many times it was rescheduled; None on bookings stored before moves were counted.
    moves: int | None = None
    # Set while a reschedule moves the claim; a stale one is tidied up by the sweeper,
    # which finds it by `rescheduling` (FerretDB pushes down an equality, never a null).
    reschedule_started_at: datetime | None = None
    rescheduling: bool = False
    # The UTC days of `start` and `end` (see `day_number`), kept by every write of them:
    # sweeps find the bookings that start or end soon a day at a time, an equality FerretDB
    # pushes down, rather than reading every confirmed one, those of months ahead too.
    start_day: int | None = None
    end_day: int | None = None
    # Set with the status that ends its hold, cleared once its cells are free: the sweeper
    # frees the cells of a booking whose change stopped in between.
    releasing: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    outbox: list[OutboxEvent] = []
    outbox_waiting: bool = False  # see core/events.py

    class Settings:
        name = "bookings"
        indexes = [
            IndexModel([("customer_id", ASCENDING), ("idempotency_key", ASCENDING)], unique=True),
            IndexModel([("specialist_id", ASCENDING), ("claim_start", ASCENDING)]),
            IndexModel([("customer_id", ASCENDING), ("start", DESCENDING)]),
            IndexModel([("status", ASCENDING), ("end", ASCENDING)]),
            IndexModel([("start_day", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("end_day", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("releasing", ASCENDING)]),
            IndexModel([("rescheduling", ASCENDING)]),
            IndexModel([("meeting_ref", ASCENDING)]),
        ]

    @model_validator(mode="after")
    def _keep_days(self) -> Self:
        self.start_day, self.end_day = day_number(self.start), day_number(self.end)
        return self


def day_number(instant: datetime) -> int:
    """The UTC day of an instant, counted from 1970-01-01."""
    return (instant - EPOCH).days


def days_from(first: datetime, last: datetime) -> range:
    """The day numbers from the day of `first` to the day of `last`, both included."""
    return range(day_number(first), day_number(last) + 1)


async def starting_on_days(
    first: datetime, last: datetime, query: dict[str, Any], *, limit: int
) -> list[Booking]:
    """The bookings matching `query` that start on the days from `first` to `last`, read a
    day at a time (at most `limit` a day): the day is an equality FerretDB pushes down,
    where the rest of a query (a status) may match every booking to come."""
    found: list[Booking] = []
    for day in days_from(first, last):
        found += await Booking.find({"start_day": day, **query}).limit(limit).to_list()
    return found


def meeting_ref(provider: str, external_id: str) -> str:
    """The value of `Booking.meeting_ref` for a provider's meeting."""
    return f"{provider}:{external_id}"


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


class BookingPlace(Document):
    """One place taken under a service's booking limit (see claims.take_places)."""

    id: str  # type: ignore[assignment]  # "<counter key>#<n>"
    key: str  # the counter key

    class Settings:
        name = "booking_places"
        indexes = [IndexModel([("key", ASCENDING)])]


# --------------------------------------------------------------------------- the rules


def _busy() -> DomainError:
    return DomainError.of(ErrorCode.BOOKING_BUSY, "This booking is being changed; try again.")


def booking_not_found() -> DomainError:
    return DomainError.of(ErrorCode.NOT_FOUND, "There is no such booking.", "id")


def status_label(status: BookingStatus) -> str:
    return status.value.replace("_", " ")


def check_transition(current: BookingStatus, to: BookingStatus) -> None:
    """Raise ILLEGAL_TRANSITION unless TRANSITIONS allows current -> to."""
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(status_label(s) for s in TRANSITIONS[current])) or "nothing"
        raise DomainError.of(
            ErrorCode.ILLEGAL_TRANSITION,
            f"A {status_label(current)} booking cannot become {status_label(to)}"
            f" (it can become: {allowed}).",
        )


class Party(StrEnum):
    CUSTOMER = "customer"
    SPECIALIST = "specialist"
    ADMIN = "admin"
    PLATFORM = "platform"  # nobody: the platform, on what a provider reported


def party(booking: Booking, user: User) -> Party | None:
    """In which capacity the user acts on the booking (the strongest one), or None."""
    if user.has(Role.ADMIN):
        return Party.ADMIN
    if booking.specialist_id == user.id:
        return Party.SPECIALIST
    if booking.customer_id == user.id:
        return Party.CUSTOMER
    return None


def acting_party(booking: Booking, user: User) -> Party:
    by = party(booking, user)
    if by is None:
        # Not a party: as if the booking did not exist, so ids reveal nothing.
        raise booking_not_found()
    return by


def refund_percent(booking: Booking, policy: CancellationPolicy, by: Party, now: datetime) -> int:
    """What cancelling now gives back of the price, per the service's policy."""
    if booking.status != BookingStatus.CONFIRMED or booking.price == 0:
        return 0  # nothing was paid
    if by == Party.SPECIALIST:
        return 100  # the customer loses nothing when the specialist calls it off
    in_time = now <= booking.start - timedelta(minutes=policy.cancel_minutes_before)
    return policy.refund_percent if in_time else policy.late_refund_percent


def stored_instant(value: datetime) -> datetime:
    """The instant as the database stores it (millisecond precision), for equality filters."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# --------------------------------------------------------------------------- state changes
#
# Every change of a booking, here and in reservations, booking_changes and sweeps, runs
# holding the booking's lock (see core/locks.py for why) and re-reads the booking inside
# it. The updates below stay conditional as well: on MongoDB that alone makes them exclusive.


def booking_collection() -> Any:
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


def booking_event(name: str, booking: Booking, **data: Any) -> dict[str, Any]:
    return new_event(name, booking_id=str(booking.id), **data).model_dump()


async def update_booking(
    booking: Booking, update: dict[str, Any], *, also: dict[str, Any] | None = None
) -> Booking:
    """Apply update if the booking still has the status (and start) it was read with; a
    booking whose outbox it pushed to joins the unit of work."""
    query = {
        "_id": booking.id,
        "status": booking.status.value,
        "start": stored_instant(booking.start),
    }
    pushes_events = "outbox" in update.get("$push", {})
    if pushes_events:
        update = events.raising_waiting_flag(update)
    raw = await booking_collection().find_one_and_update(
        {**query, **(also or {})}, update, return_document=ReturnDocument.AFTER
    )
    if raw is None:  # changed by a writer that does not take the lock
        raise _busy()
    changed: Booking = Booking.model_validate(raw)
    if pushes_events:
        # Published when the change finishes; the outbox as stored saves reading it.
        events.note_outbox(Booking, changed.id, raw.get("outbox", []))
    return changed


async def transition(
    booking: Booking,
    to: BookingStatus,
    now: datetime,
    outbox: Sequence[dict[str, Any]],
    **changes: Any,
) -> Booking:
    """The new status and its events in one conditional single-document update."""
    check_transition(booking.status, to)
    if booking.status in HOLDING and to not in HOLDING:
        changes["releasing"] = True  # cleared by free_cells
    return await update_booking(
        booking,
        {
            "$set": {"status": to.value, "updated_at": now, **changes},
            "$push": {"outbox": {"$each": list(outbox)}},
        },
    )


def booking_object_id(booking_id: PydanticObjectId | str) -> PydanticObjectId:
    if isinstance(booking_id, str):
        if not PydanticObjectId.is_valid(booking_id):
            raise booking_not_found()
        return PydanticObjectId(booking_id)
    return booking_id


async def get_booking(booking_id: PydanticObjectId | str) -> Booking:
    booking = await Booking.get(booking_object_id(booking_id))
    if booking is None or booking.status == BookingStatus.RESERVING:
        raise booking_not_found()
    return booking


async def release_time(booking: Booking) -> None:
    """After a booking stopped holding its time: free its cells and its limit places."""
    assert booking.id is not None
    await claims.release_places(booking.quota_places)
    await free_cells(booking.id, booking.specialist_id)


async def free_cells(booking_id: PydanticObjectId, specialist_id: PydanticObjectId) -> None:
    """After a booking stopped holding its time: free its busy time and cells (its places
    stay); it stays marked `releasing` for the sweeper if its calendar is too busy now."""
    if await claims.release(booking_id, specialist_id):
        await booking_collection().update_one(
            {"_id": booking_id, "releasing": True}, {"$set": {"releasing": False}}
        )


async def clear_reschedule_mark(booking_id: PydanticObjectId, marker: datetime) -> None:
    await booking_collection().update_one(
        {"_id": booking_id, "reschedule_started_at": marker},
        {"$set": {"reschedule_started_at": None, "rescheduling": False}},
    )


async def confirm(booking_id: PydanticObjectId, *, now: datetime | None = None) -> Booking:
    """PENDING_PAYMENT -> CONFIRMED (the payment arrived); confirming twice is harmless."""
    now = now or utcnow()
    async with booking_lock(booking_object_id(booking_id)):
        booking = await get_booking(booking_id)
        if booking.status == BookingStatus.CONFIRMED:
            return booking
        event = booking_event(events.BOOKING_CONFIRMED, booking)
        return await transition(
            booking, BookingStatus.CONFIRMED, now, [event], hold_expires_at=None
        )


# --------------------------------------------------------------------------- reading


def booking_filter(
    *,
    customer_id: PydanticObjectId | None = None,
    specialist_id: PydanticObjectId | None = None,
    statuses: Sequence[BookingStatus] = (),
    start_from: datetime | None = None,
    start_to: datetime | None = None,
) -> dict[str, Any]:
    """A query for listed bookings (never RESERVING ones) starting in [start_from, start_to)
    (naive instants are UTC); INVALID for instants out of the platform's range."""
    query: dict[str, Any] = {}
    if customer_id is not None:
        query["customer_id"] = customer_id
    if specialist_id is not None:
        query["specialist_id"] = specialist_id
    shown = [s.value for s in statuses if s != BookingStatus.RESERVING]
    if len(shown) == 1:
        query["status"] = shown[0]  # an equality: pushed down, and it leads an index
    else:
        query["status"] = {"$in": shown} if statuses else {"$ne": BookingStatus.RESERVING.value}
    check = Check()
    start: dict[str, datetime] = {}
    for operator, name, value in (("$gte", "from", start_from), ("$lt", "to", start_to)):
        if value is not None:
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            start[operator] = validation.instant(check, name, aware)
    check.raise_if_any()
    if start:
        query["start"] = start
    return query


async def booking_of_meeting(provider: str, external_id: str) -> Booking | None:
    """The booking whose meeting is the provider's `external_id`, if any."""
    return await Booking.find_one({"meeting_ref": meeting_ref(provider, external_id)})


async def visible_booking(booking_id: str, viewer: User) -> Booking:
    """The booking if the viewer is one of its parties or an admin; NOT_FOUND otherwise."""
    booking = await get_booking(booking_id)
    acting_party(booking, viewer)
    return booking
