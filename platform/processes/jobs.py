"""The worker's jobs: event delivery and the periodic sweeps that keep promises kept.

Each job is a plain coroutine taking the worker's Runtime first; `worker.bootstrap`
declares them as actors and runs each in a unit of work, which publishes the events the
job wrote when it ends.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from specialistly.core import sweeps
from specialistly.core.clock import utcnow
from specialistly.core.events import Event, documents_with_outbox, due_events, with_outbox
from specialistly.core.locks import LockTimeoutError, document_lock
from specialistly.features import booking_reads, reminders
from specialistly.infra import db
from specialistly.infra.metrics.registry import EVENTS_DUE, OUTBOX_BACKLOG
from specialistly.plugin_system import dispatch
from specialistly.runtime import Runtime

log = logging.getLogger("specialistly.processes.jobs")

# An outbox older than this was left behind by a change that stopped half-way.
OUTBOX_GRACE = timedelta(seconds=5)
# The sweeper leaves an event being written to the next sweep rather than queue behind it.
LEASE_WAIT = timedelta(seconds=1)
_EVERY_DAY = sweeps.EveryDaySweep(timedelta(hours=1))


async def dispatch_event(runtime: Runtime, *event_ids: str) -> None:
    """Deliver the events, in their order (those published together come in one job).

    An event whose delivery raised is left to the sweeper, and the others are delivered
    all the same; the job then raises the first error, to be counted as failed."""
    failed: Exception | None = None
    async with booking_reads.once_per_job():  # their handlers mostly want one booking
        for event_id in event_ids:
            try:
                await dispatch.dispatch_event(event_id, runtime)
            except Exception as exc:
                log.exception("event %s not delivered; the sweeper will", event_id)
                failed = failed or exc
    if failed is not None:
        raise failed


async def sweep_events(runtime: Runtime) -> None:
    """Publish forgotten outboxes, of every document type that has one (plugins' too);
    deliver again the events whose delivery is overdue."""
    now = utcnow()
    for model in with_outbox(db.document_models(runtime.plugins)):
        left = await documents_with_outbox(model, now - OUTBOX_GRACE)
        OUTBOX_BACKLOG.labels(model.get_pymongo_collection().name).set(len(left))
        for doc_id in left:
            await runtime.publish(model, doc_id)
    due = await due_events(now)
    EVENTS_DUE.set(len(due))
    for event in due:
        if await lease(event, now + runtime.settings.event_retry_delay):
            await runtime.jobs.send("dispatch_event", str(event.id))


async def lease(event: Event, until: datetime) -> bool:
    """Lease a due event's next delivery until `until`, so that the next sweep does not
    send it again meanwhile; False if a delivery wrote it since it was read, or a failed
    one is writing it now (under its lock: see plugin_system/dispatch.py)."""
    try:
        async with document_lock(Event, event.id, wait=LEASE_WAIT):
            leased = await Event.get_pymongo_collection().update_one(
                {"_id": event.id, "next_attempt_at": event.next_attempt_at},
                {"$set": {"next_attempt_at": until}},
            )
    except LockTimeoutError:
        return False  # the next sweep looks again
    return bool(leased.modified_count)


async def sweep_bookings(runtime: Runtime) -> None:
    """One round of the booking sweeps, every day's part of it hourly and at the first."""
    now = utcnow()
    await sweeps.sweep_bookings(now, every_day=_EVERY_DAY.due(now))


async def sweep_plugins(runtime: Runtime) -> None:
    """Run every plugin's clean-ups (the ``sweeps`` hook), each on its own."""
    now = utcnow()
    for name, sweeps_of_plugin in runtime.plugins.collect("sweeps", runtime=runtime):
        for sweep in sweeps_of_plugin or ():
            try:
                await sweep(now)
            except Exception:
                log.exception("a clean-up of plugin %r failed; the next sweep retries", name)


async def sweep_reminders(runtime: Runtime) -> None:
    """Send the booking reminders that are due."""
    await reminders.send_due(runtime, utcnow())
