"""Lifecycle events and their outbox.

A change and its event are written in one single-document update: the event is pushed
onto the changed document's ``outbox`` array. Publishing then copies it into the
``events`` collection (with the same id, so copying twice is harmless), removes it from the
outbox and enqueues its dispatch. A sweeper repeats whatever a crash interrupted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from specialistly.core.clock import utcnow
from specialistly.core.locks import LockTimeoutError, document_lock

log = logging.getLogger("specialistly.events")

# Event names (version 1 unless said otherwise).
BOOKING_CREATED = "booking.created"
BOOKING_CONFIRMED = "booking.confirmed"
BOOKING_CANCELLED = "booking.cancelled"
BOOKING_RESCHEDULED = "booking.rescheduled"
BOOKING_COMPLETED = "booking.completed"
BOOKING_EXPIRED = "booking.expired"
MEETING_CREATED = "meeting.created"
MEETING_FAILED = "meeting.failed"


class OutboxEvent(BaseModel):
    """An event waiting in its document's outbox."""

    id: PydanticObjectId = Field(default_factory=PydanticObjectId)
    name: str
    version: int = 1
    data: dict[str, Any] = {}
    occurred_at: datetime = Field(default_factory=utcnow)


class Event(Document):
    """A stored event; ``handled_by`` lists the plugins that reacted to it successfully."""

    name: str
    version: int = 1
    subject: str  # "<collection>:<id>" of the document that changed
    data: dict[str, Any] = {}
    occurred_at: datetime
    handled_by: list[str] = []
    dispatched_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = None

    class Settings:
        name = "events"
        indexes = [
            IndexModel([("dispatched_at", ASCENDING), ("next_attempt_at", ASCENDING)]),
            IndexModel([("subject", ASCENDING), ("occurred_at", ASCENDING)]),
        ]


def new_event(name: str, version: int = 1, **data: Any) -> OutboxEvent:
    return OutboxEvent(name=name, version=version, data=data)


Enqueue = Callable[[str], Awaitable[None]]


async def publish_outbox(
    model: type[Document], doc_id: Any, enqueue: Enqueue, *, lease: timedelta
) -> int:
    """Move the events waiting in one document's outbox to the events collection.

    Safe to repeat: an event keeps its id when copied, and leaves the outbox only after it
    is stored. Runs under the document's lock, since other writers may push new events.
    Returns how many events were moved (none if the lock stays busy: the sweeper will).
    """
    collection = model.get_pymongo_collection()
    try:
        async with document_lock(model, doc_id):
            doc = await collection.find_one({"_id": doc_id}, {"outbox": 1})
            outbox = (doc or {}).get("outbox", [])
            stored = [await _store(collection, doc_id, raw, lease) for raw in outbox]
    except LockTimeoutError:
        log.warning("outbox of %s:%s busy; the sweeper will publish it", collection.name, doc_id)
        return 0
    for event_id in stored:
        try:
            await enqueue(event_id)
        except Exception:
            log.warning("event %s stored but not enqueued; the sweeper will", event_id)
    return len(stored)


async def _store(collection: Any, doc_id: Any, raw: dict[str, Any], lease: timedelta) -> str:
    """Copy one outbox entry to the events collection, then take it out of the outbox."""
    waiting = OutboxEvent.model_validate(raw)
    event = Event(
        id=waiting.id,
        name=waiting.name,
        version=waiting.version,
        subject=f"{collection.name}:{doc_id}",
        data=waiting.data,
        occurred_at=waiting.occurred_at,
        # The enqueued delivery has this long before the sweeper delivers it again.
        next_attempt_at=utcnow() + lease,
    )
    with suppress(DuplicateKeyError):  # copied by a run that stopped before the $pull
        await event.insert()
    # FerretDB v1 ignores $pull conditions, so pull the exact stored subdocument.
    await collection.update_one({"_id": doc_id}, {"$pull": {"outbox": raw}})
    return str(waiting.id)


async def documents_with_outbox(model: type[Document], older_than: datetime) -> list[Any]:
    """Ids of documents whose outbox still holds events that occurred before `older_than`."""
    cursor = model.get_pymongo_collection().find(
        {"outbox": {"$ne": []}, "outbox.occurred_at": {"$lt": older_than}}, {"_id": 1}
    )
    return [doc["_id"] async for doc in cursor]


async def due_events(now: datetime, limit: int = 100) -> list[Event]:
    """Events not yet handled by every plugin whose next attempt is due."""
    query = Event.find(Event.dispatched_at == None, Event.next_attempt_at <= now)  # noqa: E711
    return await query.sort("+next_attempt_at").limit(limit).to_list()
