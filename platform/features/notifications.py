"""Live notices of lifecycle events, fanned out through Redis pub/sub (a built-in plugin).

Every API instance subscribes to the channels of its own WebSocket clients, so any
instance can serve any subscriber whichever worker handled the event.
"""

from __future__ import annotations

import json
from typing import Any

from beanie import PydanticObjectId

from specialistly.core.bookings import Booking
from specialistly.core.events import Event
from specialistly.hookspecs import hookimpl
from specialistly.runtime import Runtime


def channel(runtime: Runtime, user_id: object) -> str:
    return f"{runtime.settings.broker_namespace}:user:{user_id}"


@hookimpl
async def on_event(event: Event, runtime: Runtime) -> None:
    """Tell the customer and the specialist of a booking about each of its events."""
    booking_id = event.data.get("booking_id")
    if not booking_id or not PydanticObjectId.is_valid(booking_id):
        return
    booking = await Booking.get(PydanticObjectId(booking_id))
    if booking is None:
        return
    notice = json.dumps(notice_of(event), default=str)
    for user_id in {booking.customer_id, booking.specialist_id}:
        await runtime.redis.publish(channel(runtime, user_id), notice)


def notice_of(event: Event) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "name": event.name,
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "data": event.data,
    }
