"""Events survive a killed worker and a failing plugin, and take effect exactly once."""

from __future__ import annotations

from datetime import timedelta

from specialistly.core.clock import utcnow
from specialistly.core.events import Event
from specialistly.runtime import Runtime
from tests.factories import stored_event
from tests.plugins.example import HandledEvent
from tests.processes import Process
from tests.waiting import dispatched, eventually


async def slow_delivery_started(runtime: Runtime, subject: str, seconds: int) -> Event:
    """An event the example plugin sleeps on (the first delivery only), once it is asleep."""
    event = stored_event("test.slow", subject, data={"sleep": seconds})
    await event.insert()
    await runtime.jobs.send("dispatch_event", str(event.id))

    async def started() -> HandledEvent | None:
        return await HandledEvent.get(event.id)

    await eventually(started)
    return event


async def test_a_worker_killed_mid_handler_loses_nothing_and_repeats_nothing(
    runtime: Runtime, worker: Process
) -> None:
    # Long enough for us to kill the worker in the middle of the handler.
    event = await slow_delivery_started(runtime, "test:2", seconds=60)
    worker.stop(kill=True)  # SIGKILL in the middle of the handler

    killed = await Event.get(event.id)
    assert killed is not None and killed.dispatched_at is None
    assert "tests.plugins.example" not in killed.handled_by

    worker.start()
    await dispatched(event.id)  # the sweeper delivered it again once its lease ran out
    handled = await HandledEvent.get(event.id)
    assert handled is not None
    assert handled.started == 2
    assert handled.effects == 1


async def test_a_failing_plugin_is_retried_without_running_the_others_again(
    runtime: Runtime, worker: Process
) -> None:
    event = stored_event("test.failing", "test:3", data={"fail": 1})
    await event.insert()
    await runtime.jobs.send("dispatch_event", str(event.id))

    async def failed_once() -> Event | None:
        stored = await Event.get(event.id)
        return stored if stored and stored.attempts >= 1 else None

    stored = await eventually(failed_once)
    assert stored.dispatched_at is None
    # The other plugins went through; only the failing one is left to run again.
    assert sorted(stored.handled_by) == [
        "account-mail",
        "in-app-notifications",
        "mail",
        "meetings",
        "notifications",
        "payments",
        "zoom",
    ]
    assert "asked to fail" in (stored.last_error or "")
    assert stored.next_attempt_at > utcnow() - timedelta(seconds=1)

    # Once the plugin stops failing, the next delivery completes the event.
    await Event.find_one(Event.id == event.id).update({"$set": {"data": {}}})
    await dispatched(event.id)
    handled = await HandledEvent.get(event.id)
    assert handled is not None and handled.effects == 1


async def test_a_stopping_worker_finishes_the_delivery_in_hand(
    runtime: Runtime, worker: Process
) -> None:
    event = await slow_delivery_started(runtime, "test:4", seconds=2)
    worker.stop()  # SIGTERM: the worker stops gracefully, its runtime last

    stored = await Event.get(event.id)
    assert stored is not None and stored.dispatched_at is not None
    handled = await HandledEvent.get(event.id)
    assert handled is not None and (handled.started, handled.effects) == (1, 1)


async def test_a_starting_worker_takes_no_job_before_it_has_booted(
    runtime: Runtime, worker: Process
) -> None:
    worker.stop()
    event = stored_event("test.queued", "test:5")
    await event.insert()
    await runtime.jobs.send("dispatch_event", str(event.id))  # waiting when the worker starts

    logged_before = worker.log.stat().st_size
    worker.start()
    await dispatched(event.id)

    # A job taken before boot would fail for want of the runtime, and be dropped.
    with worker.log.open("rb") as log:
        log.seek(logged_before)
        assert b"has not booted" not in log.read()
