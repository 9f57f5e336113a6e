"""Lifecycle events, their outbox and the unit of work that publishes it.

A change and its event are written in one single-document update: the event is pushed
onto the changed document's ``outbox`` array, and the document is noted in the current
unit of work. When the change finishes (a GraphQL operation, a job, a command), the unit
of work publishes every outbox it noted: it copies the events into the ``events``
collection (with the same id, so copying twice is harmless), removes them from the outbox
and enqueues their dispatch. A change made under the document's lock (core/locks.py) is
published before the lock is given back, by the same holder, which saves taking the lock
again; the others when the unit of work ends. No caller publishes by hand. A sweeper
repeats whatever a crash interrupted, for every document type that has an ``outbox`` field.

Whoever pushes events onto an outbox also sets the document's top-level ``outbox_waiting``
flag in the same update (the helpers here do), and publishing clears it once the outbox
is empty: the sweeper finds outboxes left behind by an equality on the flag, which
FerretDB pushes down, where a condition on the array itself would read every document.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from beanie import Document, PydanticObjectId
from beanie.odm.utils.dump import get_dict
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import BulkWriteError

from specialistly.core.clock import utcnow
from specialistly.core.locks import LockTimeoutError, before_release, document_lock

log = logging.getLogger("specialistly.events")
DUPLICATE_KEY = 11000

# Event names (version 1 unless said otherwise).
BOOKING_CREATED = "booking.created"
BOOKING_CONFIRMED = "booking.confirmed"
BOOKING_CANCELLED = "booking.cancelled"
BOOKING_RESCHEDULED = "booking.rescheduled"
BOOKING_COMPLETED = "booking.completed"
BOOKING_EXPIRED = "booking.expired"
BOOKING_NO_SHOW = "booking.no_show"  # the specialist recorded that the customer did not come
MEETING_CREATED = "meeting.created"
MEETING_FAILED = "meeting.failed"
# Registration issued the new user's email verification link (data: user_id, token_id).
USER_REGISTERED = "user.registered"
# A link was issued (data: token_id, user_id); its email carries the link.
EMAIL_VERIFICATION_REQUESTED = "account.email_verification_requested"
PASSWORD_RESET_REQUESTED = "account.password_reset_requested"  # noqa: S105 (a name)


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
    # True until every plugin has handled it (then dispatched_at is set): the sweeper's
    # equality, since FerretDB pushes no null comparison down.
    pending: bool = True
    dispatched_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = None

    class Settings:
        name = "events"
        indexes = [
            IndexModel([("pending", ASCENDING), ("next_attempt_at", ASCENDING)]),
            IndexModel([("subject", ASCENDING), ("occurred_at", ASCENDING)]),
        ]


def new_event(name: str, version: int = 1, **data: Any) -> OutboxEvent:
    return OutboxEvent(name=name, version=version, data=data)


OUTBOX_WAITING = "outbox_waiting"


def raising_waiting_flag(update: Mapping[str, Any]) -> dict[str, Any]:
    """The update (which pushes events onto the outbox) also setting ``outbox_waiting``."""
    return {**update, "$set": {**update.get("$set", {}), OUTBOX_WAITING: True}}


# --------------------------------------------------------------------------- unit of work


Outbox = list[dict[str, Any]]


class Publish(Protocol):
    """Publishes one document's outbox; `held` when the caller holds its lock already, and
    then `outbox` as its last write left it, when known (which saves reading it)."""

    def __call__(
        self,
        model: type[Document],
        doc_id: Any,
        *,
        held: bool = False,
        outbox: Outbox | None = None,
    ) -> Awaitable[int]: ...


D = TypeVar("D", bound=Document)
# The documents whose outbox received events in the current unit of work, in write order,
# with the outbox as the last write left it when that write answered it.
Noted = dict[tuple[type[Document], Any], Outbox | None]

# Tasks started inside a unit of work share its dict (a context copy keeps the reference).
_noted: ContextVar[Noted | None] = ContextVar("specialistly_noted_outboxes", default=None)


def note_outbox(model: type[Document], doc_id: Any, outbox: Outbox | None = None) -> None:
    """Note that a document's outbox received events: the unit of work publishes it when
    the change finishes. Outside a unit of work, the sweeper publishes it. `outbox`: the
    whole outbox as stored after the write, when the write answered it."""
    noted = _noted.get()
    if noted is not None:
        noted[(model, doc_id)] = outbox


@asynccontextmanager
async def unit_of_work(publish: Publish) -> AsyncIterator[None]:
    """Publish, when the block ends, the outbox of every document noted inside it.

    A document is noted only once its write succeeded, so its events describe changes
    that happened: they are published even when the block then raises. A publication
    that fails is left to the sweeper. A unit of work opened inside another one publishes
    its own documents when it ends.
    """
    noted: Noted = {}
    token = _noted.set(noted)
    at_release = before_release.set(partial(_publish_held, noted, publish))
    try:
        yield
    finally:
        before_release.reset(at_release)
        _noted.reset(token)
        for model, doc_id in noted:
            try:
                await publish(model, doc_id)
            except Exception:
                log.exception(
                    "%s %s: outbox not published; the sweeper will", model.__name__, doc_id
                )


async def _publish_held(noted: Noted, publish: Publish, model: type[Document], doc_id: Any) -> None:
    """Before a lock is given back: publish the document's outbox if a change under the
    lock wrote to it. Should that fail, the unit of work tries again when it ends."""
    if (model, doc_id) not in noted:
        return
    outbox = noted.pop((model, doc_id))
    try:
        await publish(model, doc_id, held=True, outbox=outbox)
    except Exception:
        noted[(model, doc_id)] = None
        log.warning("%s %s: outbox not published under its lock", model.__name__, doc_id)


async def update_with_events(
    model: type[Document],
    query: Mapping[str, Any],
    update: Mapping[str, Any],
    new: Sequence[OutboxEvent],
) -> bool:
    """Apply `update` to the document matching `query` and push `new` onto its outbox, in
    one single-document update, and note it in the unit of work. False if none matched.

    The caller holds the document's lock: its publisher takes it to empty the outbox."""
    push = {**update.get("$push", {}), "outbox": {"$each": [e.model_dump() for e in new]}}
    # No projection: FerretDB v1 does not implement one in findAndModify.
    raw = await model.get_pymongo_collection().find_one_and_update(
        dict(query),
        raising_waiting_flag({**update, "$push": push}),
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        return False
    # The outbox as stored: published under the caller's lock without reading it again.
    note_outbox(model, raw["_id"], raw.get("outbox", []))
    return True


async def insert_with_events(document: D) -> D:
    """Insert a document whose ``outbox`` holds its first events, with ``outbox_waiting``
    set (whether or not its model declares it), and note it in the unit of work."""
    model = type(document)
    fields = get_dict(document, to_db=True, keep_nulls=model.get_settings().keep_nulls)
    inserted = await model.get_pymongo_collection().insert_one({**fields, OUTBOX_WAITING: True})
    document.id = inserted.inserted_id
    note_outbox(model, document.id)
    return document


def with_outbox(models: Iterable[type[Document]]) -> list[type[Document]]:
    """The document types that carry an ``outbox`` (the sweeper's to watch)."""
    return [model for model in models if "outbox" in model.model_fields]


# --------------------------------------------------------------------------- publishing


class Enqueue(Protocol):
    """Enqueues the delivery of stored events: one job for all of them."""

    def __call__(self, *event_ids: str) -> Awaitable[None]: ...


async def publish_outbox(
    model: type[Document],
    doc_id: Any,
    enqueue: Enqueue,
    *,
    lease: timedelta,
    held: bool = False,
    outbox: Outbox | None = None,
) -> int:
    """Move the events waiting in one document's outbox to the events collection.

    Safe to repeat: an event keeps its id when copied, and leaves the outbox only after it
    is stored. Runs under the document's lock, since other writers may push new events:
    taken here unless the caller `held` it (and then knows the `outbox` it left, maybe).
    The events are enqueued together, for one job to deliver them in their order.
    Returns how many events were moved (none if the lock stays busy: the sweeper will).
    """
    collection = model.get_pymongo_collection()
    if held:
        stored = await _move(collection, doc_id, lease, outbox)
    else:
        try:
            async with document_lock(model, doc_id):
                stored = await _move(collection, doc_id, lease)
        except LockTimeoutError:
            log.warning(
                "outbox of %s:%s busy; the sweeper will publish it", collection.name, doc_id
            )
            return 0
    if stored:
        try:
            await enqueue(*stored)
        except Exception:
            log.warning("events %s stored but not enqueued; the sweeper will", stored)
    return len(stored)


async def _move(
    collection: Any, doc_id: Any, lease: timedelta, known: Outbox | None = None
) -> list[str]:
    """Copy the outbox's entries to the events collection, then empty it (its lock held).
    The outbox is read unless `known`: as the last write under the lock left it."""
    if known is None:
        doc = await collection.find_one({"_id": doc_id}, {"outbox": 1})
        known = (doc or {}).get("outbox", [])
    outbox = known
    stored = await _store(outbox, f"{collection.name}:{doc_id}", lease) if outbox else []
    # Emptied, flag and all, in one write when the outbox is still what was read (always,
    # when every writer holds the lock). Otherwise exactly these entries leave it (FerretDB
    # v1 ignores $pull conditions: $pullAll takes out exactly these subdocuments), and the
    # flag is cleared only if no entry came meanwhile.
    emptied = await collection.update_one(
        {"_id": doc_id, "outbox": outbox}, {"$set": {"outbox": [], OUTBOX_WAITING: False}}
    )
    if not emptied.matched_count:
        if outbox:
            await collection.update_one({"_id": doc_id}, {"$pullAll": {"outbox": outbox}})
        await collection.update_one(
            {"_id": doc_id, "outbox": []}, {"$set": {OUTBOX_WAITING: False}}
        )
    return stored


async def _store(outbox: list[dict[str, Any]], subject: str, lease: timedelta) -> list[str]:
    """Copy the outbox's entries to the events collection (one write, however many)."""
    # The enqueued delivery has this long before the sweeper delivers it again.
    next_attempt_at = utcnow() + lease
    events = [_stored_event(raw, subject, next_attempt_at) for raw in outbox]
    try:
        await Event.insert_many(events, ordered=False)
    except BulkWriteError as exc:
        # Events copied by a run that stopped before taking them out are there already.
        if any(error["code"] != DUPLICATE_KEY for error in exc.details["writeErrors"]):
            raise
    return [str(e.id) for e in events]


def _stored_event(raw: dict[str, Any], subject: str, next_attempt_at: datetime) -> Event:
    waiting = OutboxEvent.model_validate(raw)
    return Event(
        id=waiting.id,
        name=waiting.name,
        version=waiting.version,
        subject=subject,
        data=waiting.data,
        occurred_at=waiting.occurred_at,
        next_attempt_at=next_attempt_at,
    )


async def documents_with_outbox(model: type[Document], older_than: datetime) -> list[Any]:
    """Ids of documents whose outbox still holds events that occurred before `older_than`."""
    cursor = model.get_pymongo_collection().find(
        {OUTBOX_WAITING: True, "outbox.occurred_at": {"$lt": older_than}}, {"_id": 1}
    )
    return [doc["_id"] async for doc in cursor]


async def due_events(now: datetime, limit: int = 100) -> list[Event]:
    """Events not yet handled by every plugin whose next attempt is due."""
    query = Event.find({"pending": True, "next_attempt_at": {"$lte": now}})
    return await query.sort("+next_attempt_at").limit(limit).to_list()
