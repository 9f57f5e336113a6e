"""Services, working hours, profiles and users kept in memory (core/read_cache.py): a change is
seen at once, in this process and in the others, and nothing stale outlives a lost channel."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError

from specialistly.core import accounts, catalog, marketplace, read_cache
from specialistly.core.read_cache import ReadCache
from specialistly.core.services import Service
from specialistly.core.working_hours import DayHours
from specialistly.infra.cache_sync import CacheSync
from specialistly.runtime import Runtime
from tests.commands import Commands
from tests.factories import VIDEO, hours, make_service, make_specialist
from tests.waiting import eventually


@asynccontextmanager
async def another_process(runtime: Runtime) -> AsyncIterator[ReadCache]:
    """A cache with a Redis connection and subscription of its own, as another process's;
    it keeps what it reads for longer than any test lasts."""
    cache = ReadCache(ttl=3600)
    redis = Redis.from_url(runtime.settings.redis_url, socket_timeout=None)
    sync = CacheSync(cache, redis, redis, runtime.cache_sync.channel)
    sync.start()
    try:
        await eventually(_serving(cache))
        yield cache
    finally:
        await sync.stop()
        await redis.aclose()


def _serving(cache: ReadCache):  # type: ignore[no-untyped-def]
    async def serving() -> bool:
        return cache.serving

    return serving


async def test_what_was_read_once_is_read_from_memory_after(
    runtime: Runtime, commands: Commands
) -> None:
    owner = await make_specialist()
    service = await make_service(owner)
    await hours(owner)
    await eventually(_serving(read_cache.documents))
    assert service.id is not None and owner.id is not None

    for _ in range(2):
        commands.events.clear()
        assert (await read_cache.service(service.id)) == service
        assert (await read_cache.hours(owner.id)) is not None
        assert (await read_cache.profile(owner.id)) is not None
        user = await read_cache.user(owner.id)
        assert user is not None and (user.id, user.email) == (owner.id, owner.email)
        reads = commands.reads()
    assert reads == []


async def test_a_change_is_shown_at_once_by_the_process_that_made_it(runtime: Runtime) -> None:
    owner = await make_specialist()
    service = await make_service(owner, title="Intro call")
    await hours(owner)
    await eventually(_serving(read_cache.documents))
    assert service.id is not None and owner.id is not None
    await read_cache.service(service.id), await read_cache.hours(owner.id)
    await read_cache.profile(owner.id), await read_cache.user(owner.id)

    await catalog.update_service(
        owner, str(service.id), {"title": "Deep dive"}, video_providers=VIDEO
    )
    await hours(owner, "Europe/Berlin", DayHours(0, [("08:00", "12:00")]))
    await accounts.update_profile(
        owner, accounts.ProfileChanges(headline="Now in Berlin", display_name="Ada Lovelace")
    )
    await catalog.archive_service(owner, str(service.id))

    shown = await read_cache.service(service.id)
    assert shown is not None and (shown.title, shown.status.value) == ("Deep dive", "archived")
    shown_hours = await read_cache.hours(owner.id)
    assert shown_hours is not None and shown_hours.timezone == "Europe/Berlin"
    profile = await read_cache.profile(owner.id)
    assert profile is not None and profile.headline == "Now in Berlin"
    user = await read_cache.user(owner.id)
    assert user is not None and user.display_name == "Ada Lovelace"


async def test_a_specialist_page_is_read_from_memory_and_follows_every_change(
    runtime: Runtime, commands: Commands
) -> None:
    owner = await make_specialist()
    first = await make_service(owner, title="Intro call")
    await hours(owner)
    await eventually(_serving(read_cache.documents))
    assert owner.id is not None and first.id is not None
    profile = await read_cache.profile(owner.id)
    assert profile is not None

    async def page(slug: str) -> marketplace.SpecialistPage:
        shown = await marketplace.specialist_page(slug, marketplace.nobody)
        assert shown is not None
        return shown

    for _ in range(2):  # the first builds the busy time, whose write drops it
        await page(profile.slug)
    commands.events.clear()
    assert [s.title for s in (await page(profile.slug)).services] == ["Intro call"]
    assert commands.reads() == []  # its profile, services, hours and busy time are kept

    await make_service(owner, title="Deep dive", price=9000)  # published: on sale
    shown = await page(profile.slug)
    assert [s.title for s in shown.services] == ["Intro call", "Deep dive"]
    assert shown.profile.price_max == 9000
    await catalog.archive_service(owner, str(first.id))
    assert [s.title for s in (await page(profile.slug)).services] == ["Deep dive"]

    moved = f"ada-{secrets.token_hex(3)}"
    await accounts.update_profile(owner, accounts.ProfileChanges(slug=moved))
    assert await marketplace.specialist_page(profile.slug, marketplace.nobody) is None
    assert (await page(moved)).profile.user_id == owner.id


async def test_a_change_is_dropped_by_every_other_process(runtime: Runtime) -> None:
    owner = await make_specialist()
    service = await make_service(owner, title="Intro call")
    assert service.id is not None
    await eventually(_serving(read_cache.documents))
    async with another_process(runtime) as other:
        kept = await other.find_one(Service, "_id", service.id)
        assert kept is not None and kept.title == "Intro call"

        await catalog.update_service(
            owner, str(service.id), {"title": "Deep dive"}, video_providers=VIDEO
        )

        async def renamed() -> bool:
            shown = await other.find_one(Service, "_id", service.id)
            return shown is not None and shown.title == "Deep dive"

        await eventually(renamed)


async def test_after_a_lost_channel_nothing_kept_before_is_served(runtime: Runtime) -> None:
    owner = await make_specialist()
    service = await make_service(owner, title="Intro call")
    assert service.id is not None
    async with another_process(runtime) as other:
        await other.find_one(Service, "_id", service.id)
        # A change whose announcement this process cannot hear: its channel is cut first.
        await runtime.redis.client_kill_filter(_type="pubsub")
        await Service.get_pymongo_collection().update_one(
            {"_id": service.id}, {"$set": {"title": "Deep dive"}}
        )

        async def renamed() -> bool:
            shown = await other.find_one(Service, "_id", service.id)
            return other.serving and shown is not None and shown.title == "Deep dive"

        await eventually(renamed)


class StopAsError(Redis):
    """Redis whose subscriptions answer the cancellation of a read with a ConnectionError,
    as redis-py does at times (redis/redis-py#2717)."""

    def pubsub(self, **kwargs: Any) -> PubSub:
        subscription = super().pubsub(**kwargs)
        listen = subscription.listen

        async def listen_until_cancelled() -> AsyncIterator[Any]:
            try:
                async for message in listen():
                    yield message
            except asyncio.CancelledError as exc:
                raise RedisConnectionError("Connection closed by server.") from exc

        subscription.listen = listen_until_cancelled  # type: ignore[method-assign]
        return subscription


async def test_a_stopping_process_stops_following_when_its_read_answers_with_an_error(
    runtime: Runtime,
) -> None:
    cache = ReadCache(ttl=60)
    redis = StopAsError.from_url(runtime.settings.redis_url)
    sync = CacheSync(cache, redis, redis, runtime.cache_sync.channel)
    sync.start()
    await eventually(_serving(cache))

    stopping = asyncio.create_task(sync.stop())
    stopped, _ = await asyncio.wait({stopping}, timeout=30)

    assert stopped, "it subscribed again: its process would never stop"
    assert not cache.serving
    await redis.aclose()


async def test_subscriptions_send_without_a_time_limit(runtime: Runtime) -> None:
    # redis-py sends a command with a time limit through asyncio.wait_for, which on Python
    # 3.11 can lose a cancellation: a subscription cancelled then listened forever.
    assert runtime.subscriptions.connection_pool.connection_kwargs["socket_timeout"] is None
    assert runtime.cache_sync.subscriptions is runtime.subscriptions
