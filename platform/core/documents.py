"""The documents the core stores, for the database layer to initialise."""

from __future__ import annotations

from beanie import Document

from specialistly.core.availability import Availability
from specialistly.core.bookings import Booking, BookingPlace, SlotClaim
from specialistly.core.busy import BusyTime
from specialistly.core.events import Event
from specialistly.core.services import Service
from specialistly.core.users import SpecialistProfile, User

CORE_MODELS: list[type[Document]] = [
    User,
    SpecialistProfile,
    Service,
    Availability,
    Booking,
    SlotClaim,
    BookingPlace,
    BusyTime,
    Event,
]
