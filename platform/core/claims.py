"""Slot claims: a booking holds its time as one SlotClaim document per five-minute cell.

FerretDB v1 does not enforce a unique index per array element, so a claim cannot be an
array on the booking; one document per cell with a unique (specialist, cell) index can.
Cells are aligned to the clock (hh:00, hh:05, ...) and cover the claim rounded outwards,
so two claims that overlap by any instant share a cell. The price is that two claims
touching at an unaligned instant (10:07) conflict too; slots, durations and buffers are
whole minutes and normally multiples of five, where this never happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

# The module, not its names: bookings imports this module while it is still loading.
from specialistly.core import bookings, busy
from specialistly.core.clock import as_utc
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.slots import Interval

CELL = timedelta(minutes=5)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def slot_taken(field: str = "start") -> DomainError:
    return DomainError.of(
        ErrorCode.SLOT_TAKEN, "This time has just been booked by someone else.", field
    )


def cells(claim_start: datetime, claim_end: datetime) -> list[datetime]:
    """The aligned cells that [claim_start, claim_end) touches, in order."""
    start, end = as_utc(claim_start), as_utc(claim_end)
    cell = _EPOCH + (start - _EPOCH) // CELL * CELL
    result = []
    while cell < end:
        result.append(cell)
        cell += CELL
    return result


async def claim(
    specialist_id: PydanticObjectId,
    entry: busy.Entry,
    wanted: Sequence[datetime],
    *,
    field: str = "start",
) -> None:
    """Insert one claim per wanted cell, all or none, then record the entry's busy time;
    SLOT_TAKEN if any cell is held already."""
    booking_id = entry.booking_id
    if wanted:
        docs = [
            bookings.SlotClaim(specialist_id=specialist_id, cell=c, booking_id=booking_id)
            for c in wanted
        ]
        try:
            # ordered: the cells before the first conflict are exactly the ones written.
            await bookings.SlotClaim.get_pymongo_collection().insert_many(
                [d.model_dump(by_alias=True, exclude={"id"}) for d in docs], ordered=True
            )
        except (BulkWriteError, DuplicateKeyError) as exc:
            inserted = exc.details.get("nInserted", 0) if isinstance(exc, BulkWriteError) else 0
            await _release_cells(booking_id, wanted[:inserted])
            raise slot_taken(field) from None
    try:
        await busy.add(specialist_id, entry)
    except BaseException:
        await _release_cells(booking_id, wanted)
        raise


async def release(
    booking_id: PydanticObjectId,
    specialist_id: PydanticObjectId,
    which: Iterable[datetime] | None = None,
    *,
    claim: Interval | None = None,
) -> bool:
    """Drop the booking's busy time (the entry of `claim`, or all of it), then its claims
    on the given cells, or on all its cells; False if nothing was released.

    A booking that no longer holds its time and cannot have its busy time dropped now (the
    calendar is too busy) keeps its cells, and stays marked `releasing` for the sweeper to
    try again. Part of a booking's cells are never left that way: that raises.
    """
    try:
        await busy.drop(specialist_id, booking_id, claim)
    except DomainError:
        if which is not None:
            raise
        return False
    await _release_cells(booking_id, which)
    return True


async def _release_cells(
    booking_id: PydanticObjectId, which: Iterable[datetime] | None = None
) -> None:
    query: dict[str, object] = {"booking_id": booking_id}
    if which is not None:
        listed = list(which)
        if not listed:
            return
        query["cell"] = {"$in": listed}
    await bookings.SlotClaim.get_pymongo_collection().delete_many(query)


async def keep_only(booking: bookings.Booking) -> None:
    """After a move that stopped half-way: keep exactly the cells and the busy time of the
    booking's current claim."""
    entry = busy.entry_of(booking)
    await busy.replace(booking.specialist_id, entry)
    keep = cells(entry.claim.start, entry.claim.end)
    await bookings.SlotClaim.get_pymongo_collection().delete_many(
        {"booking_id": entry.booking_id, "cell": {"$nin": keep}}
    )


async def held(booking_id: PydanticObjectId) -> list[datetime]:
    cursor = bookings.SlotClaim.get_pymongo_collection().find(
        {"booking_id": booking_id}, {"cell": 1}
    )
    found: list[datetime] = [as_utc(doc["cell"]) async for doc in cursor]
    return sorted(found)


# Per-service booking limits (max per day / week) are places: documents whose _id is
# "<counter key>#<n>" for n below the limit. A booking takes a free place by inserting it;
# the unique _id makes two requests unable to take the same place. (A counter raised with
# a conditional $inc would not do: FerretDB v1 applies updates as unisolated
# read-modify-write, so concurrent increments get lost.) A request takes places only once
# it owns its time (claim_with_places), so no request about to lose its time holds a place
# that refuses someone else. A request that crashes between taking a place and recording
# it on its booking leaves the place taken: one booking too few may be allowed that day,
# never one too many.


def day_counter(service_id: object, day: date) -> str:
    """The counter of a service's bookings on a (specialist-local) day."""
    return f"{service_id}:day:{day.isoformat()}"


def week_counter(service_id: object, day: date) -> str:
    """The counter of a service's bookings in the ISO week of a (specialist-local) day."""
    year, week, _ = day.isocalendar()
    return f"{service_id}:week:{year}-W{week:02d}"


def limit_reached(counter: str, field: str) -> DomainError:
    """Which cap is full, told by the counter's key (see day_counter and week_counter)."""
    if ":week:" in counter:
        return DomainError.of(
            ErrorCode.WEEKLY_LIMIT_REACHED, "This service is fully booked for that week.", field
        )
    return DomainError.of(
        ErrorCode.DAILY_LIMIT_REACHED, "This service is fully booked for that day.", field
    )


def _places() -> AsyncCollection[dict[str, Any]]:
    return bookings.Booking.get_pymongo_collection().database.get_collection("booking_places")


def place_key(place: str) -> str:
    return place.rsplit("#", 1)[0]


async def take_places(limits: Sequence[tuple[str, int]], *, field: str = "start") -> list[str]:
    """One place under each (counter key, limit), all or none; DAILY_LIMIT_REACHED or
    WEEKLY_LIMIT_REACHED if one is full."""
    taken: list[str] = []
    for key, limit in limits:
        place = await _take(key, limit)
        if place is None:
            await release_places(taken)
            raise limit_reached(key, field)
        taken.append(place)
    return taken


async def _check_places(limits: Sequence[tuple[str, int]], *, field: str = "start") -> None:
    """The limit's code if a limit has no free place left now. Only a first answer: a place
    freed or taken meanwhile changes it, and take_places decides."""
    for key, limit in limits:
        if await _places().count_documents({"key": key}) >= limit:
            raise limit_reached(key, field)


async def claim_with_places(
    specialist_id: PydanticObjectId,
    entry: busy.Entry,
    wanted: Sequence[datetime],
    limits: Sequence[tuple[str, int]],
    *,
    field: str = "start",
) -> list[str]:
    """Claim the cells, then take a place under each limit; returns the places taken.

    In this order a request holds a place only once it owns its time, so the losers of a
    contested time hear SLOT_TAKEN and never crowd out a booking of another time that day.
    Failing a limit releases the cells just claimed. A limit already full is refused before
    anything is claimed, so everyone asking on a full day hears the limit's code.
    """
    await _check_places(limits, field=field)
    await claim(specialist_id, entry, wanted, field=field)
    try:
        return await take_places(limits, field=field)
    except DomainError:
        await release(entry.booking_id, specialist_id, wanted, claim=entry.claim)
        raise


async def _take(key: str, limit: int) -> str | None:
    for n in range(limit):
        try:
            await _places().insert_one({"_id": f"{key}#{n}", "key": key})
        except DuplicateKeyError:
            continue
        return f"{key}#{n}"
    return None


async def release_places(places: Iterable[str]) -> None:
    for place in places:  # one by _id each: FerretDB pushes no $in down
        await _places().delete_one({"_id": place})


async def places_taken(key: str) -> int:
    return await _places().count_documents({"key": key})
