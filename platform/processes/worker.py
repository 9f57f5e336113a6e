"""The worker process, built by `bootstrap` in one place as `create_app` builds the API.

Actors run as coroutines on Dramatiq's event-loop thread. Each is a job of `jobs.py`,
declared explicitly on the worker's broker; it gets the worker's Runtime (started at
boot, on that loop) as its first argument and runs in a unit of work, so the events it
writes are published when it ends. A scheduler thread enqueues the periodic actors.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware
from redis import Redis

from specialistly.infra.broker import QUEUE, create_broker, message
from specialistly.infra.logs import configure_logging
from specialistly.infra.metrics.exposition import MetricsServer
from specialistly.infra.metrics.jobs import JobMetrics
from specialistly.processes import jobs, memory
from specialistly.runtime import Runtime, start_runtime
from specialistly.settings import Settings

log = logging.getLogger("specialistly.processes.worker")

Job = Callable[..., Awaitable[None]]  # its first argument is the worker's Runtime


@dataclass(frozen=True)
class WorkerParts:
    """What `bootstrap` builds: the broker with every actor declared on it, and the names
    of the actors to enqueue every sweep interval."""

    broker: RedisBroker
    periodic: tuple[str, ...]

    def actor_names(self) -> list[str]:
        return sorted(self.broker.get_declared_actors())


def bootstrap(settings: Settings) -> WorkerParts:
    """The worker's broker, its runtime (started when the worker boots) and its actors."""
    broker = create_broker(settings)
    booted = _BootedRuntime(settings)
    broker.add_middleware(booted)
    broker.add_middleware(JobMetrics())

    def declare(job: Job, *, periodic: bool = False) -> str:
        name = job.__name__

        @functools.wraps(job)
        async def run(*args: Any) -> None:
            runtime = booted.runtime()
            try:
                async with runtime.unit_of_work():
                    await job(runtime, *args)
            finally:
                if periodic:  # the scheduler may queue the next run
                    await runtime.redis.delete(periodic_marker(settings, name))

        declared = dramatiq.actor(broker=broker, actor_name=name, queue_name=QUEUE, max_retries=0)
        declared(run)
        return name

    declare(jobs.dispatch_event)
    periodic = (
        declare(jobs.sweep_events, periodic=True),
        declare(jobs.sweep_bookings, periodic=True),
        declare(jobs.sweep_plugins, periodic=True),
        declare(jobs.sweep_reminders, periodic=True),
    )
    return WorkerParts(broker=broker, periodic=periodic)


class _BootedRuntime(Middleware):
    """Starts the worker's Runtime on Dramatiq's event loop at boot (Beanie binds its
    models to one loop), before the worker threads take their first job, and closes it
    once they have stopped. The AsyncIO middleware, declared before this one, starts the
    loop before this runs and stops it after (`after_` hooks run in reverse)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._runtime: Runtime | None = None

    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("the worker has not booted")
        return self._runtime

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop = get_event_loop_thread()
        assert loop is not None
        self._runtime = loop.run_coroutine(start_runtime(self.settings))

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop = get_event_loop_thread()
        if self._runtime is not None and loop is not None:
            loop.run_coroutine(self._runtime.close())
        self._runtime = None


def periodic_marker(settings: Settings, actor_name: str) -> str:
    """The Redis key that says a run of a periodic actor is queued or running."""
    return f"{settings.broker_namespace}:periodic:{actor_name}"


class Scheduler(threading.Thread):
    """Enqueues the periodic actors; a Redis lock lets one worker of many do it per tick.

    An actor is enqueued only when its previous run has ended (its marker is gone): a
    sweep slower than the interval must not pile up copies of itself in the queue, ahead
    of the events waiting there. The marker's lifetime covers a run lost with its worker.
    """

    def __init__(self, settings: Settings, broker: RedisBroker, actors: Sequence[str]) -> None:
        super().__init__(name="specialistly-scheduler", daemon=True)
        self.settings = settings
        self.broker = broker
        self.actors = actors
        self.interval = settings.sweep_interval.total_seconds()
        self.marker_ms = int(max(60.0, 6 * self.interval) * 1000)
        self._stop = threading.Event()

    def run(self) -> None:
        redis = Redis.from_url(self.settings.redis_url)
        key = f"{self.settings.broker_namespace}:scheduler"
        while not self._stop.wait(self.interval):
            try:
                if redis.set(key, "1", nx=True, px=int(self.interval * 900)):
                    self.tick(redis)
            except Exception:
                log.exception("scheduler tick failed")
        redis.close()

    def tick(self, redis: Redis) -> list[str]:
        """Enqueue each periodic actor whose last run has ended; the names enqueued."""
        enqueued = []
        for name in self.actors:
            if redis.set(periodic_marker(self.settings, name), "1", nx=True, px=self.marker_ms):
                self.broker.enqueue(message(name))
                enqueued.append(name)
        return enqueued

    def forget_runs(self, redis: Redis) -> None:
        """At a worker's start: runs marked by a worker that was killed will never end.
        (Should another worker's run still be going, one extra run is harmless.)"""
        redis.delete(*(periodic_marker(self.settings, name) for name in self.actors))

    def stop(self) -> None:
        self._stop.set()


def run_worker(
    settings: Settings, threads: int = 4, metrics_at: tuple[str, int] | None = None
) -> int:
    """Run one worker process until SIGINT or SIGTERM, serving its metrics at
    `metrics_at` (host, port) if given."""
    configure_logging()
    parts = bootstrap(settings)
    metrics = MetricsServer(settings, *metrics_at) if metrics_at else None
    worker = dramatiq.Worker(parts.broker, worker_threads=threads)
    scheduler = Scheduler(settings, parts.broker, parts.periodic)
    with Redis.from_url(settings.redis_url) as redis:
        scheduler.forget_runs(redis)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    worker.start()  # boots the runtime before it returns
    memory.settle()
    scheduler.start()
    if metrics is not None:
        metrics.start()
    log.info("worker started", extra={"threads": threads, "actors": parts.actor_names()})
    stop.wait()
    if metrics is not None:
        metrics.stop()
    scheduler.stop()
    worker.stop()
    parts.broker.close()
    return 0
