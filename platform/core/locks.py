"""Short exclusive locks stored in the database, for writers of one document.

FerretDB v1 applies an update as an unisolated read-modify-write: of two concurrent
updates of one document both may report success while one of them is lost, filter and
all. Inserting a document under a unique ``_id`` is atomic, so a lock is such a document,
with a lease in case its holder crashed. Every writer of a document that others may write
at the same time takes its lock and re-reads the document inside it.

A waiter polls, first soon (a lock is normally held for a few round trips), then less
often, so that many waiters do not keep the database busy. A database briefly unavailable
while taking or giving back a lock is tried again: both are safe to repeat, since a lock
whose insert was applied but whose answer was lost carries our token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import timedelta

from beanie import Document
from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from specialistly.core.clock import as_utc, utcnow
from specialistly.core.errors import DomainError, ErrorCode, is_transient

log = logging.getLogger("specialistly.locks")
LEASE = timedelta(seconds=30)
WAIT = timedelta(seconds=5)
COLLECTION = "locks"
POLL_FIRST = 0.005  # seconds; doubles up to POLL_MAX
POLL_MAX = 0.1
RELEASE_ATTEMPTS = 3


# What is still to be done with a document before its lock is given back: a unit of work
# (core/events.py) publishes there the outbox its change wrote under the lock, so that the
# publisher need not take the lock again.
BeforeRelease = Callable[[type[Document], object], Awaitable[None]]
before_release: ContextVar[BeforeRelease | None] = ContextVar(
    "specialistly_before_release", default=None
)


class LockTimeoutError(Exception):
    """Another writer held the lock for longer than we were willing to wait."""


@asynccontextmanager
async def document_lock(
    model: type[Document], doc_id: object, *, wait: timedelta = WAIT
) -> AsyncIterator[None]:
    """Be the one writer of the document until the block ends; LockTimeoutError after `wait`."""
    collection = model.get_pymongo_collection()
    locks: AsyncCollection = collection.database.get_collection(COLLECTION)  # type: ignore[type-arg]
    key = f"{collection.name}:{doc_id}"
    token = ObjectId()
    deadline = utcnow() + wait
    poll = POLL_FIRST
    # Whether the lock in the way is our own (its insert's answer was lost) or one whose
    # lease has ended is looked up after a lost answer, from the second refusal on, and at
    # the deadline: a first refusal is nearly always a lock in use, and its waiter saves a
    # round trip (an ended lease is seen one poll later).
    look = False
    while True:
        now = utcnow()
        try:
            await locks.insert_one({"_id": key, "token": token, "until": now + LEASE})
            break
        except DuplicateKeyError:
            if look or now >= deadline:
                held = await locks.find_one({"_id": key})
                if held is not None and held["token"] == token:
                    break  # our own insert, applied before its answer was lost
                if held is not None and as_utc(held["until"]) < now:
                    await locks.delete_one({"_id": key, "token": held["token"]})
                    continue
            look = True
        except Exception as exc:
            if not is_transient(exc):
                raise
            look = True
        if now >= deadline:
            raise LockTimeoutError(key) from None
        await asyncio.sleep(poll)
        poll = min(poll * 2, POLL_MAX)
    try:
        yield
    finally:
        finish = before_release.get()
        try:
            if finish is not None:
                await finish(model, doc_id)
        finally:
            await _release(locks, key, token)


@asynccontextmanager
async def edit_lock(model: type[Document], doc_id: object) -> AsyncIterator[None]:
    """The document's lock, for a change someone asked for: CONFLICT if it stays busy."""
    try:
        async with document_lock(model, doc_id):
            yield
    except LockTimeoutError:
        raise DomainError.of(
            ErrorCode.CONFLICT, "This is being changed elsewhere at the moment; try again."
        ) from None


async def _release(locks: AsyncCollection, key: str, token: ObjectId) -> None:  # type: ignore[type-arg]
    """Give the lock back; should the database stay unavailable, its lease frees it."""
    for attempt in range(1, RELEASE_ATTEMPTS + 1):
        try:
            await locks.delete_one({"_id": key, "token": token})
            return
        except Exception as exc:
            if not is_transient(exc) or attempt == RELEASE_ATTEMPTS:
                log.warning("lock %s not released (%s); its lease will end it", key, exc)
                return
            await asyncio.sleep(POLL_FIRST * 2**attempt)
