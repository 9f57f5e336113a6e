"""The worker's scheduler queues a periodic job again only once its last run has ended,
so a sweep slower than the sweep interval cannot fill the queue with copies of itself."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from redis import Redis

from specialistly.processes.worker import Scheduler, WorkerParts, bootstrap, periodic_marker
from specialistly.runtime import Runtime
from specialistly.settings import Settings
from tests.processes import Process
from tests.waiting import eventually


@pytest.fixture
def parts(settings: Settings) -> Iterator[WorkerParts]:
    own = settings.model_copy(update={"broker_namespace": f"sched_{secrets.token_hex(4)}"})
    built = bootstrap(own)
    yield built
    built.broker.flush_all()
    built.broker.close()


@pytest.fixture
def redis(settings: Settings) -> Iterator[Redis]:
    with Redis.from_url(settings.redis_url) as client:
        yield client


def scheduler_of(parts: WorkerParts, settings: Settings) -> Scheduler:
    own = settings.model_copy(update={"broker_namespace": parts.broker.namespace})
    return Scheduler(own, parts.broker, parts.periodic)


def test_a_periodic_job_is_queued_again_only_when_its_last_run_has_ended(
    parts: WorkerParts, settings: Settings, redis: Redis
) -> None:
    scheduler = scheduler_of(parts, settings)

    assert scheduler.tick(redis) == list(parts.periodic)
    assert scheduler.tick(redis) == []  # none of them has run yet
    redis.delete(periodic_marker(scheduler.settings, "sweep_events"))  # as its run does
    assert scheduler.tick(redis) == ["sweep_events"]


def test_a_starting_worker_forgets_the_runs_of_a_killed_one(
    parts: WorkerParts, settings: Settings, redis: Redis
) -> None:
    scheduler = scheduler_of(parts, settings)
    scheduler.tick(redis)

    scheduler.forget_runs(redis)

    assert scheduler.tick(redis) == list(parts.periodic)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_periodic_run_clears_its_marker_when_it_ends(
    runtime: Runtime, settings: Settings, redis: Redis, worker: Process
) -> None:
    marker = periodic_marker(settings, "sweep_reminders")

    async def scheduling() -> bool:  # the worker is up: it has forgotten earlier runs
        return int(redis.pttl(marker)) > 0

    await eventually(scheduling)
    redis.set(marker, "1", px=600_000)  # a run is queued (a long marker: only the run clears it)
    await runtime.jobs.send("sweep_reminders")

    async def cleared() -> bool:
        # Gone, or set again by the session worker's scheduler, with its own shorter life.
        return int(redis.pttl(marker)) <= 60_000

    await eventually(cleared)
