"""Short exclusive locks stored in the database, for writers of one document.

FerretDB v1 applies an update as an unisolated read-modify-write: of two concurrent
updates of one document both may report success while one of them is lost, filter and
all. Inserting a document under a unique ``_id`` is atomic, so a lock is such a document,
with a lease in case its holder crashed. Every writer of a document that others may write
at the same time takes its lock and re-reads the document inside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from beanie import Document
from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from specialistly.core.clock import as_utc, utcnow

LEASE = timedelta(seconds=30)
WAIT = timedelta(seconds=5)
COLLECTION = "locks"


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
    while True:
        now = utcnow()
        try:
            await locks.insert_one({"_id": key, "token": token, "until": now + LEASE})
            break
        except DuplicateKeyError:
            held = await locks.find_one({"_id": key})
            if held is not None and as_utc(held["until"]) < now:
                await locks.delete_one({"_id": key, "token": held["token"]})
                continue
            if now >= deadline:
                raise LockTimeoutError(key) from None
            await asyncio.sleep(0.02)
    try:
        yield
    finally:
        await locks.delete_one({"_id": key, "token": token})
