"""Live notices of lifecycle events, fanned out through Redis pub/sub (a built-in plugin).

Every API instance subscribes to the channels of its own WebSocket clients, so any
instance can serve any subscriber whichever worker handled the event. The message is the
event as stored, in JSON with ISO 8601 instants; the API turns it into a typed notice.
Each user's in-app notifications travel the same way, on a channel of their own.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import datetime
from typing import Any

from beanie import PydanticObjectId

from specialistly.core.clock import as_utc
from specialistly.core.events import Event
from specialistly.features import booking_reads
from specialistly.hookspecs import hookimpl
from specialistly.runtime import Runtime


def channel(runtime: Runtime, user_id: object) -> str:
    return f"{runtime.settings.broker_namespace}:user:{user_id}"


def notifications_channel(runtime: Runtime, user_id: object) -> str:
    """The user's in-app notifications (see `notifications_inbox`), as they are added."""
    return f"{channel(runtime, user_id)}:notifications"


@hookimpl
async def on_event(event: Event, runtime: Runtime) -> None:
    """Tell the customer and the specialist of a booking about each of its events."""
    booking_id = event.data.get("booking_id")
    if not booking_id or not PydanticObjectId.is_valid(booking_id):
        return
    parties = await _parties.of(PydanticObjectId(booking_id))
    if parties is None:
        return
    notice = message_of(event)
    for user_id in parties:
        await runtime.redis.publish(channel(runtime, user_id), notice)


class Parties:
    """The customer and specialist of recent bookings: they never change, and a booking's
    events come one after another, so each booking is read once rather than per event."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._known: OrderedDict[PydanticObjectId, frozenset[PydanticObjectId]] = OrderedDict()

    async def of(self, booking_id: PydanticObjectId) -> frozenset[PydanticObjectId] | None:
        known = self._known.get(booking_id)
        if known is not None:
            self._known.move_to_end(booking_id)
            return known
        booking = await booking_reads.booking(booking_id)
        if booking is None:
            return None
        found = frozenset({booking.customer_id, booking.specialist_id})
        self._known[booking_id] = found
        if len(self._known) > self.kept:
            self._known.popitem(last=False)
        return found


_parties = Parties(kept=10_000)


def message_of(event: Event) -> str:
    """The pub/sub message telling of `event`."""
    raw = {
        "id": str(event.id),
        "name": event.name,
        "version": event.version,
        "occurred_at": event.occurred_at,
        "data": event.data,
    }
    return json.dumps(raw, default=_json_value)


def _json_value(value: Any) -> str:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return str(value)
