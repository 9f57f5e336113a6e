"""The read cache's rules, without a server: what it keeps, for how long, and when not."""

from __future__ import annotations

from typing import Any

from specialistly.core.read_cache import ReadCache
from specialistly.core.services import Service


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Loads:
    """Stands for the database: counts its reads and answers `value` (None: not found)."""

    def __init__(self, value: dict[str, Any] | None = None) -> None:
        self.value = value if value is not None else {"_id": 1, "title": "Intro call"}
        self.count = 0

    async def __call__(self) -> dict[str, Any] | None:
        self.count += 1
        return self.value


def listening_cache(**options: Any) -> ReadCache:
    cache = ReadCache(**options)
    cache.listening()
    return cache


async def test_a_document_read_once_is_kept() -> None:
    cache, load = listening_cache(), Loads()
    assert await cache.read("k", load) == await cache.read("k", load) == load.value
    assert load.count == 1


async def test_nothing_is_kept_while_no_subscription_to_changes_is_live() -> None:
    cache, load = ReadCache(), Loads()
    await cache.read("k", load)
    await cache.read("k", load)
    assert load.count == 2

    cache.listening()
    await cache.read("k", load)
    await cache.read("k", load)
    assert load.count == 3

    cache.deaf()  # the subscription was lost: what was kept may have missed a change
    await cache.read("k", load)
    assert load.count == 4


async def test_a_subscription_that_comes_back_starts_from_nothing() -> None:
    cache, load = listening_cache(), Loads()
    await cache.read("k", load)
    cache.deaf()
    cache.listening()
    await cache.read("k", load)
    assert load.count == 2


async def test_a_document_is_kept_no_longer_than_its_time_to_live() -> None:
    clock = Clock()
    cache, load = listening_cache(ttl=60, clock=clock), Loads()
    await cache.read("k", load)
    clock.now = 59.9
    await cache.read("k", load)
    assert load.count == 1
    clock.now = 60.0
    await cache.read("k", load)
    assert load.count == 2


async def test_a_time_to_live_of_zero_keeps_nothing() -> None:
    cache, load = listening_cache(ttl=0), Loads()
    await cache.read("k", load)
    await cache.read("k", load)
    assert load.count == 2


async def test_a_missing_document_is_not_kept() -> None:
    cache = listening_cache()
    missing = Loads()
    missing.value = None  # type: ignore[assignment]
    assert await cache.read("k", missing) is None
    assert await cache.read("k", missing) is None
    assert missing.count == 2


async def test_a_dropped_document_is_read_again() -> None:
    cache, load = listening_cache(), Loads()
    await cache.read("k", load)
    await cache.read("other", load)
    cache.drop("k")
    await cache.read("k", load)
    await cache.read("other", load)
    assert load.count == 3


async def test_a_read_during_which_a_change_was_announced_is_not_kept() -> None:
    """It may have read the document as it was before the change."""
    cache = listening_cache()
    old = {"_id": 1, "title": "before"}

    async def read_then_changed() -> dict[str, Any]:
        cache.drop("k")  # the change is announced while this read is under way
        return old

    assert await cache.read("k", read_then_changed) == old
    fresh = Loads({"_id": 1, "title": "after"})
    assert await cache.read("k", fresh) == fresh.value
    assert fresh.count == 1


async def test_the_oldest_document_makes_room_when_it_is_full() -> None:
    cache, load = listening_cache(max_entries=2), Loads()
    for key in ("a", "b", "c"):
        await cache.read(key, load)
    await cache.read("c", load)
    await cache.read("b", load)
    assert load.count == 3
    await cache.read("a", load)
    assert load.count == 4


async def test_a_change_is_announced_through_the_latest_publisher() -> None:
    cache = listening_cache()
    first: list[str] = []
    latest: list[str] = []

    async def to_first(key: str) -> None:
        first.append(key)

    async def to_latest(key: str) -> None:
        latest.append(key)

    cache.add_publisher(to_first)
    cache.add_publisher(to_latest)
    cache.drop_all()
    await cache.changed(Service, "_id", 7)
    assert (first, latest) == ([], ["Service:_id:7"])
    cache.remove_publisher(to_latest)
    await cache.changed(Service, "_id", 8)
    assert first == ["Service:_id:8"]


async def test_a_change_that_cannot_be_announced_is_still_dropped_here() -> None:
    cache, load = listening_cache(), Loads()

    async def broken(key: str) -> None:
        raise ConnectionError("Redis is away")

    cache.add_publisher(broken)

    await cache.read("Service:_id:7", load)
    await cache.changed(Service, "_id", 7)
    await cache.read("Service:_id:7", load)
    assert load.count == 2
