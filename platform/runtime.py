"""Everything a process (API or worker) holds for its lifetime, built in one place."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from beanie import Document
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from specialistly.core import read_cache
from specialistly.core.events import Outbox, publish_outbox, unit_of_work
from specialistly.hookspecs import PluginSettings
from specialistly.infra import db
from specialistly.infra.auth import TokenService
from specialistly.infra.broker import Jobs
from specialistly.infra.cache_sync import CacheSync
from specialistly.infra.metrics.mongo import DatabaseMetrics
from specialistly.infra.metrics.redis_client import TimedRedis
from specialistly.infra.ratelimit import RateLimiter
from specialistly.plugin_system.manager import PluginManager, ProviderSet, create_plugin_manager
from specialistly.settings import Settings


@dataclass
class Runtime:
    """Plugins rely only on the attributes of :class:`specialistly.hookspecs.PluginRuntime`
    (``settings``, ``plugin_settings``, ``providers``); the rest may change in any release."""

    settings: Settings
    plugins: PluginManager
    providers: ProviderSet
    mongo: AsyncMongoClient  # type: ignore[type-arg]
    redis: Redis
    # For pub/sub subscriptions (GraphQL's, the read cache's): a client that sends without
    # a time limit. redis-py sends a command with one through asyncio.wait_for, which on
    # Python 3.11 can lose a cancellation (CPython gh-86296): a subscription cancelled
    # while subscribing then listened forever, and its process never stopped. Its reads
    # wait for messages without a time limit anyway.
    subscriptions: Redis
    tokens: TokenService
    limiter: RateLimiter
    jobs: Jobs
    cache_sync: CacheSync

    def unit_of_work(self) -> AbstractAsyncContextManager[None]:
        """Where a change runs (a GraphQL operation, a job, a command): the outboxes it
        wrote to are published when it ends."""
        return unit_of_work(self.publish)

    @property
    def plugin_settings(self) -> PluginSettings:
        """Each plugin's validated settings; a plugin reads its own with ``.of(ItsClass)``."""
        return self.plugins.plugin_settings

    async def publish(
        self,
        model: type[Document],
        doc_id: Any,
        *,
        held: bool = False,
        outbox: Outbox | None = None,
    ) -> int:
        """Store the events in a document's outbox and enqueue their dispatch (for the
        unit of work and the sweeper; changes never call it themselves). `held`: the caller
        holds the document's lock, and maybe knows its `outbox`."""

        async def enqueue(*event_ids: str) -> None:
            await self.jobs.send("dispatch_event", *event_ids)

        lease = self.settings.event_retry_delay
        return await publish_outbox(model, doc_id, enqueue, lease=lease, held=held, outbox=outbox)

    async def close(self) -> None:
        for provider in self.providers.all():
            # A provider that keeps connections open (SMTP's, Stripe's, Zoom's) closes them.
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()
        self.jobs.close()
        await self.cache_sync.stop()
        await self.limiter.close()
        await self.redis.aclose()
        await self.subscriptions.aclose()
        await self.mongo.close()


async def start_runtime(settings: Settings, plugins: PluginManager | None = None) -> Runtime:
    plugins = plugins or create_plugin_manager(settings)
    mongo = await db.connect(settings, plugins, listeners=[DatabaseMetrics()])
    redis = TimedRedis.from_url(settings.redis_url)
    subscriptions = Redis.from_url(settings.redis_url, socket_timeout=None)
    read_cache.documents.ttl = settings.read_cache_ttl.total_seconds()
    channel = f"{settings.broker_namespace}:read-cache"
    cache_sync = CacheSync(read_cache.documents, redis, subscriptions, channel)
    cache_sync.start()
    return Runtime(
        settings=settings,
        plugins=plugins,
        providers=plugins.providers(),
        mongo=mongo,
        redis=redis,
        subscriptions=subscriptions,
        tokens=TokenService(settings),
        limiter=RateLimiter(redis, prefix=f"{settings.broker_namespace}:ratelimit"),
        jobs=Jobs(settings),
        cache_sync=cache_sync,
    )
