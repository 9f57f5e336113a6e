"""Live notices of lifecycle events, fanned out through Redis pub/sub (a built-in plugin).

Every API instance subscribes to the channels of its own WebSocket clients, so any
instance can serve any subscriber whichever worker handled the event. The message is the
event as stored, in JSON with ISO 8601 instants; the API turns it into a typed notice.
Each user's in-app notifications travel the same way, on a channel of their own.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from beanie import PydanticObjectId

from specialistly.core.bookings import Booking
from specialistly.core.clock import as_utc
from specialistly.core.events import Event
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
    booking = await Booking.get(PydanticObjectId(booking_id))
    if booking is None:
        return
    notice = message_of(event)
    for user_id in {booking.customer_id, booking.specialist_id}:
        await runtime.redis.publish(channel(runtime, user_id), notice)


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
