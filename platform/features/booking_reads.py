"""A booking read once per job rather than once per handler.

A job delivers the events of one outbox in their order, and each event goes to several
plugins, most of which want the same booking. Inside `once_per_job`, `booking` reads a
booking the first time it is asked for and hands out that read afterwards. A booking
this job changes is read again after the change: every writer of a booking holds its lock
(core/locks.py), and the job forgets what it read when it gives a booking's lock back. A
change made elsewhere meanwhile is seen by the next job, as a handler that had read the
booking a moment earlier would miss it too.

What must be known as it is now (inside a claim, or a lock) is read there, not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from beanie import Document, PydanticObjectId

from specialistly.core.bookings import Booking
from specialistly.core.locks import before_release

_read: ContextVar[dict[PydanticObjectId, Booking | None] | None] = ContextVar(
    "specialistly_bookings_read", default=None
)


@asynccontextmanager
async def once_per_job() -> AsyncIterator[None]:
    """Read each booking once in the block, again after a change of it under its lock."""
    read: dict[PydanticObjectId, Booking | None] = {}
    then = before_release.get()

    async def forget(model: type[Document], doc_id: object) -> None:
        if model is Booking:
            read.clear()
        if then is not None:
            await then(model, doc_id)

    token = _read.set(read)
    at_release = before_release.set(forget)
    try:
        yield
    finally:
        before_release.reset(at_release)
        _read.reset(token)


async def booking(booking_id: PydanticObjectId) -> Booking | None:
    """The booking as this job read it (read now, the first time); None if there is none.
    Shared by the job's handlers: none of them changes it in memory."""
    read = _read.get()
    if read is None:
        return await Booking.get(booking_id)
    if booking_id not in read:
        read[booking_id] = await Booking.get(booking_id)
    return read[booking_id]
