"""Delivering a stored event to each plugin's ``on_event``, each in its own ``try``.

A delivery writes its event once, when it ends, whatever the number of plugins. An event
is written by every delivery of it (a redelivery by the sweeper may overlap the first one)
and by the sweeper's lease. A failed delivery's write and the lease hold the event's lock
(see core/locks.py), or FerretDB may put back what another wrote meanwhile, its attempts
too. A delivery that succeeded writes without it (two commands fewer, on every event):
what a concurrent write can do to it is put the event back to pending, and then the event
is delivered again to the plugins it lists as missing, which handlers already allow for
(a crash before the write does the same).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from beanie import PydanticObjectId

from specialistly.core.clock import utcnow
from specialistly.core.events import Event
from specialistly.core.locks import document_lock
from specialistly.plugin_system.manager import await_me_maybe
from specialistly.providers import ProviderError
from specialistly.runtime import Runtime

log = logging.getLogger("specialistly.plugin_system.dispatch")
MAX_BACKOFF_SECONDS = 3600


async def dispatch_event(event_id: str, runtime: Runtime) -> bool:
    """Run the plugins that have not handled the event yet, in pluggy's order (``tryfirst``
    first, then last registered first, ``trylast`` last); True when all now have.

    The plugins that succeeded are recorded when the delivery ends, in the one write that
    also records its outcome, so a failing plugin makes the next delivery run only the
    plugins still missing; a crash before that write runs them all again (handlers are
    idempotent). The next delivery comes after a growing backoff, or later if a failing
    provider's ``retry_after`` says so.
    """
    if not PydanticObjectId.is_valid(event_id):
        return False
    event = await Event.get(event_id)
    if event is None or event.dispatched_at is not None:
        return True
    outcome = await _run_plugins(event, runtime)
    await _record(event, outcome, runtime)
    return not outcome.failures


@dataclass
class _Outcome:
    handled: list[str] = field(default_factory=list)  # the plugins that succeeded
    failures: list[str] = field(default_factory=list)
    not_before: float = 0.0  # seconds: the longest wait a failing provider asked for


async def _run_plugins(event: Event, runtime: Runtime) -> _Outcome:
    outcome = _Outcome()
    for name in runtime.plugins.call_order("on_event"):
        if name in event.handled_by:
            continue
        try:
            for result in runtime.plugins.call_plugin(
                "on_event", name, event=event, runtime=runtime
            ):
                await await_me_maybe(result)
        except Exception as exc:
            log.exception("plugin %r failed on %s %s", name, event.name, event.id)
            outcome.failures.append(f"{name}: {type(exc).__name__}: {exc}"[:500])
            if isinstance(exc, ProviderError) and exc.retry_after:
                outcome.not_before = max(outcome.not_before, exc.retry_after)
            continue
        outcome.handled.append(name)
    return outcome


async def _record(event: Event, outcome: _Outcome, runtime: Runtime) -> None:
    """Record who handled the event and, in the same write, that it is done or when to
    deliver it again."""
    now = utcnow()
    handled = outcome.handled
    update: dict[str, Any] = {"$addToSet": {"handled_by": {"$each": handled}}} if handled else {}
    if not outcome.failures:
        await _update(event, {**update, "$set": {"dispatched_at": now, "pending": False}})
        return
    async with document_lock(Event, event.id):
        current = await Event.get(event.id)
        attempts = current.attempts if current else event.attempts
        first = runtime.settings.event_retry_delay.total_seconds()
        backoff = min(MAX_BACKOFF_SECONDS, first * 2 ** min(attempts, 12))
        # A provider that said when it can work again (a daily limit: the next day) is
        # not asked before then; the event stays pending, so the wait loses nothing.
        backoff = max(backoff, outcome.not_before)
        retry = {
            "last_error": "; ".join(outcome.failures),
            "next_attempt_at": now + timedelta(seconds=backoff),
        }
        await _update(event, {**update, "$inc": {"attempts": 1}, "$set": retry})


async def _update(event: Event, update: dict[str, Any]) -> None:
    await Event.get_pymongo_collection().update_one({"_id": event.id}, update)
