"""The worker process: actors run as coroutines on Dramatiq's event loop thread, with the
worker's own Runtime, and a scheduler enqueues the periodic ones."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Awaitable, Callable

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware
from redis import Redis

from specialistly.infra.broker import QUEUE, create_broker, message
from specialistly.runtime import Runtime, start_runtime
from specialistly.settings import Settings

log = logging.getLogger("specialistly.processes.worker")

_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The worker's runtime, available to actors once the worker has booted."""
    if _runtime is None:
        raise RuntimeError("the worker has not booted")
    return _runtime


Actor = Callable[..., Awaitable[None]]
ACTORS: dict[str, Actor] = {}
# Actors the scheduler enqueues every sweep interval.
PERIODIC: list[str] = []


def actor(*, periodic: bool = False) -> Callable[[Actor], Actor]:
    """Register a coroutine as an actor of the worker (declared on the broker at boot)."""

    def register(fn: Actor) -> Actor:
        ACTORS[fn.__name__] = fn
        if periodic:
            PERIODIC.append(fn.__name__)
        return fn

    return register


class _RuntimeMiddleware(Middleware):
    """Starts the Runtime on the worker's event loop, and the scheduler beside it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.scheduler = _Scheduler(settings)

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        global _runtime
        loop = get_event_loop_thread()
        assert loop is not None
        _runtime = loop.run_coroutine(start_runtime(self.settings))
        self.scheduler.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        global _runtime
        self.scheduler.stop()
        loop = get_event_loop_thread()
        if _runtime is not None and loop is not None:
            loop.run_coroutine(_runtime.close())
        _runtime = None


class _Scheduler(threading.Thread):
    """Enqueues the periodic actors; a Redis lock lets one worker of many do it per tick."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="specialistly-scheduler", daemon=True)
        self.settings = settings
        self.interval = settings.sweep_interval.total_seconds()
        self._stop = threading.Event()

    def run(self) -> None:
        redis = Redis.from_url(self.settings.redis_url)
        broker = dramatiq.get_broker()
        key = f"{self.settings.broker_namespace}:scheduler"
        while not self._stop.wait(self.interval):
            try:
                if redis.set(key, "1", nx=True, px=int(self.interval * 900)):
                    for name in PERIODIC:
                        broker.enqueue(message(name))
            except Exception:
                log.exception("scheduler tick failed")
        redis.close()

    def stop(self) -> None:
        self._stop.set()


def create_worker_broker(settings: Settings) -> RedisBroker:
    """The broker of a worker process, with every actor declared on it."""
    import specialistly.processes.jobs  # noqa: F401  (registers the actors)

    broker = create_broker(settings)
    broker.add_middleware(_RuntimeMiddleware(settings))
    dramatiq.set_broker(broker)
    for name, fn in ACTORS.items():
        declare = dramatiq.actor(broker=broker, actor_name=name, queue_name=QUEUE, max_retries=0)
        declare(fn)
    return broker


def run_worker(settings: Settings, threads: int = 4) -> int:
    """Run one worker process until SIGINT or SIGTERM."""
    from specialistly.infra.logs import configure_logging

    configure_logging()
    broker = create_worker_broker(settings)
    worker = dramatiq.Worker(broker, worker_threads=threads)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    worker.start()
    log.info("worker started", extra={"threads": threads, "actors": sorted(ACTORS)})
    stop.wait()
    worker.stop()
    broker.close()
    return 0
