"""Documents that every slots request and every notice read and that change far less often
than they are read (a service, a specialist's working hours and busy time, the parties of a
booking), kept in this process's memory between reads.

Only what is shown, and what a booking is checked against (its service and the
specialist's hours: see `reservations.check_slot`), goes through the cache: a change always
reads what it changes from the database. Whoever changes a cached document calls `changed`
once the write is done: it is dropped here at once and, through Redis
(`specialistly.infra.cache_sync`), in every other process within moments. The cache serves
nothing while this process is not subscribed to those drops, and keeps nothing for longer
than its time to live, which bounds how stale an entry can be should a drop be lost.
Entries are the driver's raw documents, validated anew on each read, so that no caller can
change what another one reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from beanie import Document, PydanticObjectId

from specialistly.core.availability import Availability
from specialistly.core.services import Service, ServiceStatus
from specialistly.core.users import SpecialistProfile, User

log = logging.getLogger(__name__)

D = TypeVar("D", bound=Document)
Publish = Callable[[str], Awaitable[Any]]
Load = Callable[[], Awaitable[dict[str, Any] | None]]

MAX_ENTRIES = 10_000


class ReadCache:
    def __init__(
        self,
        *,
        ttl: float = 60.0,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        # Drops so far: a read during which one happened may have read the old document,
        # so it is not kept.
        self._drops = 0
        self._listeners = 0  # subscriptions to other processes' drops that are live
        self._publishers: list[Publish] = []

    @property
    def serving(self) -> bool:
        return self._listeners > 0 and self.ttl > 0

    async def find_one(self, model: type[D], field: str, value: object) -> D | None:
        """The document of `model` whose `field` (unique, and never changed once written,
        such as `_id`) is `value`; None if there is none (which is not kept)."""
        raw = await self.find_raw(model, field, value)
        return None if raw is None else self._valid(model, raw)

    async def find_raw(
        self, model: type[Document], field: str, value: object
    ) -> dict[str, Any] | None:
        """The same document as the driver reads it (the caller must not change it)."""
        collection = model.get_pymongo_collection()
        return await self.read(
            cache_key(model, field, value), lambda: collection.find_one({field: value})
        )

    async def read(self, key: str, load: Load) -> dict[str, Any] | None:
        """What is kept under `key`, else what `load` reads (kept if found)."""
        now = self._clock()
        hit = self._entries.get(key) if self.serving else None
        if hit is not None and hit[0] > now:
            return hit[1]
        drops = self._drops
        raw = await load()
        if raw is not None and self.serving and drops == self._drops:
            if len(self._entries) >= self._max:
                del self._entries[next(iter(self._entries))]  # the oldest
            self._entries[key] = (now + self.ttl, raw)
        return raw

    @staticmethod
    def _valid(model: type[D], raw: dict[str, Any]) -> D:
        found: D = model.model_validate(raw)
        return found

    async def changed(self, model: type[Document], field: str, value: object) -> None:
        """The document has just been written: drop it here and in every other process."""
        key = cache_key(model, field, value)
        self.drop(key)
        for publish in self._publishers[-1:]:
            try:
                await publish(key)
            except Exception as exc:  # the write is done; its time to live bounds the rest
                log.warning("could not tell other processes that %s changed: %s", key, exc)

    def drop(self, key: str) -> None:
        self._drops += 1
        self._entries.pop(key, None)

    def drop_all(self) -> None:
        self._drops += 1
        self._entries.clear()

    # What `specialistly.infra.cache_sync` calls as its subscription comes and goes.

    def listening(self) -> None:
        self.drop_all()  # drops may have been missed while nobody listened
        self._listeners += 1

    def deaf(self) -> None:
        self._listeners -= 1
        self.drop_all()

    def add_publisher(self, publish: Publish) -> None:
        self._publishers.append(publish)

    def remove_publisher(self, publish: Publish) -> None:
        self._publishers.remove(publish)


def cache_key(model: type[Document], field: str, value: object) -> str:
    return f"{model.__name__}:{field}:{value}"


documents = ReadCache()

# What is kept, each by a field that is unique and never changes (or whose writers drop
# every value it had: a profile's address), or as the list a query reads (the services on
# sale). Their writers call the matching `..._changed` once their write is done. (A
# specialist's busy time is kept too: see core/busy.py, whose one writer announces its
# changes.)


async def service(service_id: PydanticObjectId) -> Service | None:
    return await documents.find_one(Service, "_id", service_id)


async def service_changed(changed: Service) -> None:
    await documents.changed(Service, "_id", changed.id)
    await documents.changed(Service, "on_sale_by", changed.specialist_id)


async def on_sale(specialist_id: PydanticObjectId) -> list[Service]:
    """The specialist's published services, the first created first (publishing keeps them
    few): dropped with any of the specialist's services."""

    async def load() -> dict[str, Any]:
        # One mapping, not two conditions (which Beanie joins under `$and`, where FerretDB
        # pushes nothing down).
        query = {"specialist_id": specialist_id, "status": ServiceStatus.PUBLISHED.value}
        cursor = Service.get_pymongo_collection().find(query).sort([("created_at", 1), ("_id", 1)])
        return {"services": await cursor.to_list()}

    raw = await documents.read(cache_key(Service, "on_sale_by", specialist_id), load)
    return [Service.model_validate(doc) for doc in (raw or {}).get("services", [])]


async def hours(specialist_id: PydanticObjectId) -> Availability | None:
    """The specialist's working hours."""
    return await documents.find_one(Availability, "specialist_id", specialist_id)


async def hours_changed(specialist_id: PydanticObjectId) -> None:
    await documents.changed(Availability, "specialist_id", specialist_id)


async def user(user_id: PydanticObjectId) -> User | None:
    """A user, to show or to write to: never to decide what they may do (a request's own
    user is always read from the database)."""
    return await documents.find_one(User, "_id", user_id)


async def user_changed(user_id: PydanticObjectId | None) -> None:
    await documents.changed(User, "_id", user_id)


async def profile(user_id: PydanticObjectId) -> SpecialistProfile | None:
    """The specialist's public profile."""
    return await documents.find_one(SpecialistProfile, "user_id", user_id)


async def profile_by_slug(slug: str) -> SpecialistProfile | None:
    """The specialist's public profile at its address, which its owner may change: the
    change drops the old address and the new one."""
    return await documents.find_one(SpecialistProfile, "slug", slug)


async def profile_changed(user_id: PydanticObjectId, *slugs: str) -> None:
    """The profile was written; `slugs`: every address it had or has now (it is kept under
    each one)."""
    await documents.changed(SpecialistProfile, "user_id", user_id)
    for slug in slugs:
        await documents.changed(SpecialistProfile, "slug", slug)
