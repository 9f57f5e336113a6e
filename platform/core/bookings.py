"""Bookings: a customer's hold on a specialist's time, and the state machine it follows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from specialistly.core.clock import utcnow
from specialistly.core.events import OutboxEvent


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
