"""Delivering a stored event to each plugin's ``on_event``, each in its own ``try``.

An event is written by every delivery of it (a redelivery by the sweeper may overlap the
first one) and by the sweeper's lease: each write holds the event's lock (see
core/locks.py), or FerretDB may put back what another wrote meanwhile, its attempts too.
"""

from __future__ import annotations

import logging
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

    A plugin's success is recorded as soon as it returns, so a crash or a failing plugin
    makes the next delivery run only the plugins still missing. The next delivery comes
    after a growing backoff, or later if a failing provider's ``retry_after`` says so.
    """
    if not PydanticObjectId.is_valid(event_id):
        return False
    event = await Event.get(event_id)
    if event is None or event.dispatched_at is not None:
        return True
    failures: list[str] = []
    not_before = 0.0  # seconds: the longest wait a failing provider asked for
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
            failures.append(f"{name}: {type(exc).__name__}: {exc}"[:500])
            if isinstance(exc, ProviderError) and exc.retry_after:
                not_before = max(not_before, exc.retry_after)
            continue
        await _write(event, {"$addToSet": {"handled_by": name}})

    now = utcnow()
    if failures:
        first = runtime.settings.event_retry_delay.total_seconds()
        async with document_lock(Event, event.id):
            current = await Event.get(event.id)
            attempts = current.attempts if current else event.attempts
            backoff = min(MAX_BACKOFF_SECONDS, first * 2 ** min(attempts, 12))
            # A provider that said when it can work again (a daily limit: the next day) is
            # not asked before then; the event stays pending, so the wait loses nothing.
            backoff = max(backoff, not_before)
            await _update(
                event,
                {
                    "$inc": {"attempts": 1},
                    "$set": {
                        "last_error": "; ".join(failures),
                        "next_attempt_at": now + timedelta(seconds=backoff),
                    },
                },
            )
        return False
    await _write(event, {"$set": {"dispatched_at": now, "pending": False}})
    return True


async def _write(event: Event, update: dict[str, Any]) -> None:
    async with document_lock(Event, event.id):
        await _update(event, update)


async def _update(event: Event, update: dict[str, Any]) -> None:
    """The caller holds the event's lock."""
    await Event.get_pymongo_collection().update_one({"_id": event.id}, update)
