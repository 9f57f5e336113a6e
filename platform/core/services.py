"""Services: what a specialist sells, with its durations, price, buffers and policy."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from specialistly.core.clock import utcnow


class ServiceStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class AutoRecording(StrEnum):
    """Whether and where the provider records a service's meetings from their start."""

    NONE = "none"
    LOCAL = "local"  # on the host's computer
    CLOUD = "cloud"  # in the provider's cloud (recordings reach the booking's parties)


class CancellationPolicy(BaseModel):
    """How late a customer may cancel or reschedule, and what a cancellation refunds."""

    cancel_minutes_before: int = 24 * 60
    reschedule_minutes_before: int = 24 * 60
    refund_percent: int = 100  # when cancelled in time
    late_refund_percent: int = 0  # when cancelled later (only a specialist can, then)


class Service(Document):
    specialist_id: PydanticObjectId
    title: str
    description: str = ""
    durations: list[int]  # minutes, each a choice the customer can book
    price: int  # minor units of `currency`; 0 = free
    currency: str  # ISO 4217, lower case
    buffer_before: int = 0  # minutes
    buffer_after: int = 0
    minimum_notice: int = 240  # minutes
    horizon_days: int = 60
    slot_interval: int = 30  # minutes
    video_provider: str = "jitsi"
    auto_recording: AutoRecording = AutoRecording.NONE
    policy: CancellationPolicy = Field(default_factory=CancellationPolicy)
    max_per_day: int | None = None  # bookings of this service per specialist-local day
    max_per_week: int | None = None
    status: ServiceStatus = ServiceStatus.DRAFT
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "services"
        indexes = [
            IndexModel([("specialist_id", ASCENDING), ("status", ASCENDING)]),
            # The marketplace's price filter: published services of one currency by price.
            IndexModel([("status", ASCENDING), ("currency", ASCENDING), ("price", ASCENDING)]),
        ]

    @property
    def requires_payment(self) -> bool:
        return self.price > 0
