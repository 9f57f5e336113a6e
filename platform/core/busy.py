"""Busy time: one small document per specialist listing the time its bookings hold.

It is the hot read of the slots query: one document read by `_id`, its entries packed in
one binary field, instead of every booking of the window. The claim cells
(`core/claims.py`) stay the truth about conflicts; this document follows them:

- an entry is added once a booking's cells are all claimed, and dropped before its cells
  are released, so an entry never outlives the cells behind it (a slot shown busy is
  held) and a crash in between is found by the sweeper (a reservation never settled, a
  move never finished, cells without a holding booking), which then rebuilds it;
- every writer holds the document's lock (FerretDB v1 updates are not isolated), and
  each write is announced to every process, which drops what it kept of it;
- a missing document is built from the bookings on first use, so data written before it
  existed, or straight to the database, is counted.

A booking has one entry, or two while a move holds both its old and its new time.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from beanie import Document, PydanticObjectId

# The module, not its names: bookings imports claims, which imports this module.
from specialistly.core import bookings, locks, read_cache
from specialistly.core.clock import as_utc, utcnow
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.slots import Interval

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
# Entries of bookings whose claim ended longer ago than this are dropped when rewritten.
_KEEP_PAST = timedelta(days=1)
_PROJECTION = {
    "status": 1,
    "service_id": 1,
    "start": 1,
    "claim_start": 1,
    "claim_end": 1,
    "reschedule_started_at": 1,
}
_PACKED = struct.Struct("<12s12sqqq")  # booking id, service id, start, claim start, claim end
# Writers of one specialist's busy time queue for its lock: longer than a document's usual
# wait, since every booking change of the specialist passes here, for a few milliseconds.
_WAIT = timedelta(seconds=20)
# A first read, which builds the document, waits less: it can read the bookings instead.
_READ_WAIT = timedelta(seconds=1)
# Calendars whose decoded entries are kept (the slots of one calendar are read far more
# often than it changes): at most this many documents' worth of entries in memory.
DECODED_KEPT = 64


class BusyTime(Document):
    """The time a specialist's bookings hold (`_id` is the specialist's id): `entries`
    packs each entry as its booking and service ids and its start, claim start and claim
    end in seconds since 1970 (UTC), sorted by claim start.

    Packed rather than arrays: FerretDB decodes each array element on its own (about 13 us
    each, 45 ms for 500 entries as five arrays) while one binary field costs what a tiny
    document does; MongoDB reads either form as fast.
    """

    entries: bytes = b""

    class Settings:
        name = "busy_times"


@dataclass(frozen=True, slots=True)
class Entry:
    """Time one booking holds: its claim (buffers included), its start and its service."""

    booking_id: PydanticObjectId
    service_id: PydanticObjectId
    start: datetime
    claim: Interval


def entry_of(booking: bookings.Booking) -> Entry:
    """The entry of a booking's current claim."""
    assert booking.id is not None
    return Entry(
        booking.id,
        booking.service_id,
        as_utc(booking.start),
        Interval(as_utc(booking.claim_start), as_utc(booking.claim_end)),
    )


def seconds(instant: datetime) -> int:
    return int((instant - _EPOCH) // _SECOND)


def instant(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True, slots=True)
class BusyTimes:
    """A specialist's busy time as read, decoded on demand."""

    packed: bytes

    def overlapping(self, span: Interval) -> list[Entry]:
        """The entries whose claim overlaps `span`."""
        return _decode(self.packed, span)


async def read(specialist_id: PydanticObjectId) -> BusyTimes:
    """The specialist's busy time, to show: one read by `_id`, kept in memory until it
    changes (core/read_cache.py); the first one builds it."""
    raw = await read_cache.documents.find_raw(BusyTime, "_id", specialist_id)
    if raw is not None:
        return BusyTimes(raw.get("entries", b""))
    try:
        async with _lock(specialist_id, wait=_READ_WAIT):
            entries = await _current(specialist_id)
    except DomainError:  # others are writing it: read the bookings without storing
        entries = await _from_bookings(specialist_id, [])
    return BusyTimes(_pack(entries))


async def held(specialist_id: PydanticObjectId, span: Interval) -> list[Entry]:
    """The entries whose claim overlaps `span`."""
    return (await read(specialist_id)).overlapping(span)


async def add(specialist_id: PydanticObjectId, entry: Entry) -> None:
    """Record time the booking now holds (its cells are claimed)."""
    async with _lock(specialist_id):
        entries = await _current(specialist_id)
        others = [e for e in entries if _key(e) != _key(entry)]
        await _write(specialist_id, [*others, entry])


async def replace(specialist_id: PydanticObjectId, entry: Entry) -> None:
    """Make the entry the booking's only one."""
    async with _lock(specialist_id):
        entries = await _current(specialist_id)
        others = [e for e in entries if e.booking_id != entry.booking_id]
        await _write(specialist_id, [*others, entry])


async def drop(
    specialist_id: PydanticObjectId, booking_id: PydanticObjectId, claim: Interval | None = None
) -> None:
    """Forget the booking's entry with this claim, or all of its entries (before its cells
    are released)."""
    async with _lock(specialist_id):
        entries = await _current(specialist_id)
        kept = [
            e
            for e in entries
            if e.booking_id != booking_id
            or (claim is not None and _key(e) != (booking_id, *_seconds(claim)))
        ]
        if len(kept) != len(entries):
            await _write(specialist_id, kept)


async def rebuild(specialist_id: PydanticObjectId) -> list[Entry]:
    """Rewrite the document from the bookings; returns its entries.

    Safe beside writers that take no part in it: a settled booking that holds time gets
    the entry of its current claim; a reservation not settled yet or a booking being moved
    keep the entries they added themselves (a loser of a claim never adds one).
    """
    async with _lock(specialist_id):
        return await _rebuild(specialist_id)


async def _rebuild(specialist_id: PydanticObjectId) -> list[Entry]:
    entries = await _from_bookings(specialist_id, await stored(specialist_id) or [])
    await _write(specialist_id, entries)
    return entries


async def _from_bookings(specialist_id: PydanticObjectId, existing: list[Entry]) -> list[Entry]:
    holding = [status.value for status in bookings.HOLDING]
    cursor = bookings.booking_collection().find(
        {
            "specialist_id": specialist_id,
            "status": {"$in": holding},
            "claim_end": {"$gt": utcnow() - _KEEP_PAST},
        },
        _PROJECTION,
    )
    entries: list[Entry] = []
    async for doc in cursor:
        own = [e for e in existing if e.booking_id == doc["_id"]]
        if doc["status"] == bookings.BookingStatus.RESERVING:
            entries.extend(own)  # what it added, if it won its cells
            continue
        entry = Entry(
            doc["_id"],
            doc["service_id"],
            as_utc(doc["start"]),
            Interval(as_utc(doc["claim_start"]), as_utc(doc["claim_end"])),
        )
        entries.append(entry)
        if doc.get("reschedule_started_at") is not None:  # the time it is moving to
            entries.extend(e for e in own if _key(e) != _key(entry))
    return entries


async def stored(specialist_id: PydanticObjectId) -> list[Entry] | None:
    """The entries as stored, in order of their claims; None if there is no document."""
    raw = await _collection().find_one({"_id": specialist_id})
    return None if raw is None else _decode(raw.get("entries", b""), None)


async def _current(specialist_id: PydanticObjectId) -> list[Entry]:
    """The entries as stored (the caller holds the lock); built if there is no document."""
    found = await stored(specialist_id)
    return found if found is not None else await _rebuild(specialist_id)


async def _write(specialist_id: PydanticObjectId, entries: Iterable[Entry]) -> None:
    packed = _pack(entries)
    await _collection().replace_one({"_id": specialist_id}, {"entries": packed}, upsert=True)
    await read_cache.documents.changed(BusyTime, "_id", specialist_id)


def _pack(entries: Iterable[Entry]) -> bytes:
    since = seconds(utcnow() - _KEEP_PAST)
    kept = sorted(
        (e for e in entries if seconds(e.claim.end) >= since), key=lambda e: e.claim.start
    )
    return b"".join(
        _PACKED.pack(
            e.booking_id.binary,
            e.service_id.binary,
            seconds(e.start),
            seconds(e.claim.start),
            seconds(e.claim.end),
        )
        for e in kept
    )


def _decode(packed: bytes, span: Interval | None) -> list[Entry]:
    entries, claims = _decoded(packed)
    if span is None:
        return list(entries)
    low, high = seconds(span.start), seconds(span.end)
    return [
        e for e, (start, end) in zip(entries, claims, strict=True) if start < high and end > low
    ]


@lru_cache(maxsize=DECODED_KEPT)
def _decoded(packed: bytes) -> tuple[tuple[Entry, ...], tuple[tuple[int, int], ...]]:
    """Every entry of a document, and each one's claim in seconds.

    Pure, so the same bytes (a calendar unchanged since it was last read) are decoded once:
    building hundreds of ids and instants was most of the cost of a read. The entries are
    immutable, so sharing them is safe.
    """
    unpacked = list(_PACKED.iter_unpack(packed))
    entries = tuple(
        Entry(
            PydanticObjectId(booking_id),
            PydanticObjectId(service_id),
            instant(start),
            Interval.of_utc(instant(claim_start), instant(claim_end)),
        )
        for booking_id, service_id, start, claim_start, claim_end in unpacked
    )
    return entries, tuple((claim_start, claim_end) for *_, claim_start, claim_end in unpacked)


def _seconds(claim: Interval) -> tuple[int, int]:
    return seconds(claim.start), seconds(claim.end)


def _key(entry: Entry) -> tuple[PydanticObjectId, int, int]:
    """What tells two entries apart: the booking and its claim (stored to the second)."""
    return (entry.booking_id, *_seconds(entry.claim))


def _collection() -> Any:
    return BusyTime.get_pymongo_collection()


@asynccontextmanager
async def _lock(
    specialist_id: PydanticObjectId, *, wait: timedelta | None = None
) -> AsyncIterator[None]:
    """The document's lock; BOOKING_BUSY if another writer keeps it too long."""
    try:
        async with locks.document_lock(BusyTime, specialist_id, wait=wait or _WAIT):
            yield
    except locks.LockTimeoutError:
        raise DomainError.of(
            ErrorCode.BOOKING_BUSY, "This calendar is being changed; try again."
        ) from None
