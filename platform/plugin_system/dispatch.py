"""Delivering a stored event to each plugin's ``on_event``, each in its own ``try``."""

from __future__ import annotations

import logging
from datetime import timedelta

from beanie import PydanticObjectId

from specialistly.core.clock import utcnow
from specialistly.core.events import Event
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
        await Event.find_one(Event.id == event.id).update({"$addToSet": {"handled_by": name}})

    now = utcnow()
    if failures:
        first = runtime.settings.event_retry_delay.total_seconds()
        backoff = min(MAX_BACKOFF_SECONDS, first * 2 ** min(event.attempts, 12))
        # A provider that said when it can work again (a daily limit: the next day) is
        # not asked before then; the event stays pending, so the wait loses nothing.
        backoff = max(backoff, not_before)
        await Event.find_one(Event.id == event.id).update(
            {
                "$inc": {"attempts": 1},
                "$set": {
                    "last_error": "; ".join(failures),
                    "next_attempt_at": now + timedelta(seconds=backoff),
                },
            }
        )
        return False
    await Event.find_one(Event.id == event.id).update(
        {"$set": {"dispatched_at": now, "pending": False}}
    )
    return True
