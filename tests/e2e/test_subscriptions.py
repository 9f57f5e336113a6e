"""`lifecycleEvents` over graphql-transport-ws, fed by the worker through Redis pub/sub."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import websockets
from beanie import PydanticObjectId
from strawberry import relay
from websockets.typing import Subprotocol

from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.clock import utcnow
from specialistly.core.events import BOOKING_CONFIRMED, new_event
from specialistly.runtime import Runtime
from tests.client import GraphQLClient, register
from tests.processes import Process

SUBSCRIBE = """
subscription {
  lifecycleEvents {
    __typename id name version occurredAt
    booking { id status endLocal { timezone } }
    ... on BookingCancelledNotice { by reason previousStatus refundPercent }
    ... on MeetingCreatedNotice { provider joinUrl }
  }
}
"""
CANCEL = """
mutation Cancel($id: ID!, $reason: String) {
  cancelBooking(id: $id, reason: $reason) { errors { code } }
}
"""


async def open_subscription(api_url: str, token: str | None) -> Any:
    ws = await websockets.connect(
        api_url.replace("http", "ws") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    )
    payload = {"authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    return ws


async def confirmed_booking(customer_id: str, specialist_id: str) -> Booking:
    start = utcnow() + timedelta(days=2)
    booking = Booking(
        customer_id=PydanticObjectId(relay.GlobalID.from_id(customer_id).node_id),
        specialist_id=PydanticObjectId(relay.GlobalID.from_id(specialist_id).node_id),
        service_id=PydanticObjectId(),
        start=start,
        end=start + timedelta(hours=1),
        claim_start=start,
        claim_end=start + timedelta(hours=1),
        price=0,
        currency="eur",
        customer_timezone="Europe/Berlin",
        status=BookingStatus.CONFIRMED,
        idempotency_key=str(PydanticObjectId()),
        video_provider="jitsi",
        outbox=[new_event(BOOKING_CONFIRMED)],
    )
    await booking.insert()
    booking.outbox[0].data["booking_id"] = str(booking.id)
    await booking.save()
    return booking


async def test_both_parties_hear_of_their_booking(
    client: GraphQLClient, api_url: str, runtime: Runtime, worker: Process
) -> None:
    customer = await register(client)
    specialist = await register(client, "SPECIALIST")
    stranger = await register(client)
    listeners = [await open_subscription(api_url, a.token) for a in (customer, specialist)]
    outsider = await open_subscription(api_url, stranger.token)
    await asyncio.sleep(0.3)  # let the API subscribe to Redis before anything is published

    booking = await confirmed_booking(customer.id, specialist.id)
    await runtime.publish(Booking, booking.id)

    booking_gid = str(relay.GlobalID("Booking", str(booking.id)))
    for ws in listeners:
        kinds: dict[str, dict[str, Any]] = {}
        while kinds.keys() != {"booking.confirmed", "meeting.created"}:
            notice = await next_notice(ws)
            assert notice["booking"]["id"] == booking_gid
            kinds[notice["name"]] = notice
        assert kinds["booking.confirmed"]["__typename"] == "BookingNotice"
        meeting = kinds["meeting.created"]
        assert meeting["__typename"] == "MeetingCreatedNotice"
        assert meeting["provider"] == "jitsi" and meeting["joinUrl"].startswith("https://")
        await ws.close()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(outsider.recv(), timeout=1)
    await outsider.close()


async def next_notice(ws: Any) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    notice: dict[str, Any] = message["payload"]["data"]["lifecycleEvents"]
    return notice


async def test_a_cancellation_notice_is_typed(
    client: GraphQLClient, api_url: str, worker: Process
) -> None:
    customer = await register(client)
    specialist = await register(client, "SPECIALIST")
    ws = await open_subscription(api_url, customer.token)
    await asyncio.sleep(0.3)  # let the API subscribe to Redis before anything is published

    booking = await confirmed_booking(customer.id, specialist.id)
    booking_gid = str(relay.GlobalID("Booking", str(booking.id)))
    cancelled = await customer.client.data(CANCEL, {"id": booking_gid, "reason": "Clash"})
    assert cancelled["cancelBooking"]["errors"] == []

    notice = await next_notice(ws)
    while notice["name"] != "booking.cancelled":
        notice = await next_notice(ws)
    assert notice == {
        "__typename": "BookingCancelledNotice",
        "id": notice["id"],
        "name": "booking.cancelled",
        "version": 1,
        "occurredAt": notice["occurredAt"],
        "booking": {
            "id": booking_gid,
            "status": "CANCELLED",
            "endLocal": {"timezone": "Europe/Berlin"},
        },
        "by": "CUSTOMER",
        "reason": "Clash",
        "previousStatus": "CONFIRMED",
        "refundPercent": 0,  # nothing was paid
    }
    occurred = datetime.fromisoformat(notice["occurredAt"])
    assert "T" in notice["occurredAt"] and occurred.utcoffset() == timedelta(0)
    assert PydanticObjectId.is_valid(notice["id"])
    await ws.close()


async def test_a_subscription_needs_a_valid_token(api_url: str) -> None:
    ws = await open_subscription(api_url, "not-a-token")
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    assert message["type"] == "next"
    assert message["payload"]["data"] is None
    assert message["payload"]["errors"][0]["extensions"]["code"] == "TOKEN_INVALID"
    await ws.close()
