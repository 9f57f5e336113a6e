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

from specialistly.core.bookings import Booking
from specialistly.core.clock import utcnow
from specialistly.core.events import BOOKING_CONFIRMED, new_event
from specialistly.core.users import User
from specialistly.runtime import Runtime
from tests.client import GraphQLClient, register
from tests.factories import confirmed_booking_document
from tests.processes import Process
from tests.servers import serve

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
UPDATE_NAME = """mutation U($input: UpdateProfileInput!) {
  updateProfile(input: $input) { user { displayName } errors { code } } }"""
SESSION_ENDED = 4403  # documented in platform/api/transport.py


async def connect(api_url: str, token: str | None, ip: str | None = None) -> Any:
    """A graphql-transport-ws socket after connection_init (not yet acknowledged)."""
    ws = await websockets.connect(
        api_url.replace("http", "ws") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers={"x-forwarded-for": ip} if ip else None,
    )
    payload = {"authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws


async def open_socket(api_url: str, token: str | None, ip: str | None = None) -> Any:
    ws = await connect(api_url, token, ip)
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def open_subscription(api_url: str, token: str | None) -> Any:
    ws = await open_socket(api_url, token)
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    return ws


async def send_operation(ws: Any, op_id: str, query: str, variables: Any = None) -> None:
    payload = {"query": query, "variables": variables or {}}
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))


async def until_closed(ws: Any) -> tuple[list[dict[str, Any]], int | None]:
    """The messages the socket still receives, and the code it is then closed with."""
    received = []
    try:
        while True:
            received.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=90)))
    except websockets.ConnectionClosed:
        return received, ws.close_code


async def confirmed_booking(customer_id: str, specialist_id: str) -> Booking:
    start = utcnow() + timedelta(days=2)
    booking = confirmed_booking_document(
        PydanticObjectId(relay.GlobalID.from_id(specialist_id).node_id),
        start,
        60,
        customer_id=PydanticObjectId(relay.GlobalID.from_id(customer_id).node_id),
        customer_timezone="Europe/Berlin",
    )
    booking.outbox = [new_event(BOOKING_CONFIRMED)]
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
    # Generous: the worker shares the machine with the whole suite.
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=90))
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


async def test_a_socket_with_a_token_that_is_not_valid_is_refused(api_url: str) -> None:
    ws = await connect(api_url, "not-a-token")
    assert await until_closed(ws) == ([], SESSION_ENDED)


async def test_logout_ends_the_socket_and_its_subscription(
    client: GraphQLClient, api_url: str, runtime: Runtime, worker: Process
) -> None:
    customer = await register(client)
    specialist = await register(client, "SPECIALIST")
    leaving = await open_subscription(api_url, customer.token)
    staying = await open_subscription(api_url, specialist.token)
    await asyncio.sleep(0.3)  # let the API subscribe to Redis before anything is published
    assert (await customer.client.data("mutation { logout { ok } }"))["logout"]["ok"]

    booking = await confirmed_booking(customer.id, specialist.id)
    await runtime.publish(Booking, booking.id)

    # The customer's socket delivers nothing more and closes; the specialist still hears.
    assert await until_closed(leaving) == ([], SESSION_ENDED)
    message = json.loads(await asyncio.wait_for(staying.recv(), timeout=90))
    assert message["payload"]["data"]["lifecycleEvents"]["name"] == "booking.confirmed"
    await staying.close()


async def test_a_socket_cannot_act_after_logout(client: GraphQLClient, api_url: str) -> None:
    account = await register(client, name="Before Logout")
    ws = await open_socket(api_url, account.token)
    assert (await account.client.data("mutation { logout { ok } }"))["logout"]["ok"]
    await send_operation(ws, "1", UPDATE_NAME, {"input": {"displayName": "After Logout"}})
    assert await until_closed(ws) == ([], SESSION_ENDED)
    user = await User.get(relay.GlobalID.from_id(account.id).node_id)
    assert user is not None and user.display_name == "Before Logout"


async def test_operations_on_one_socket_each_know_the_viewer(
    client: GraphQLClient, api_url: str
) -> None:
    account = await register(client)
    ws = await open_socket(api_url, account.token)
    await send_operation(ws, "1", "{ myBookings { totalCount } }")
    await send_operation(ws, "2", "{ me { id } myBookings { totalCount } }")
    results: dict[str, Any] = {}
    while len(results) < 2:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=90))
        if message["type"] == "next":
            results[message["id"]] = message["payload"]
    assert results["1"] == {"data": {"myBookings": {"totalCount": 0}}}
    assert results["2"] == {"data": {"me": {"id": account.id}, "myBookings": {"totalCount": 0}}}
    await ws.close()


async def test_operations_on_a_socket_count_against_the_request_limit(api_url: str) -> None:
    ws = await open_socket(api_url, None, ip=GraphQLClient(api_url).ip)
    for n in range(101):
        await send_operation(ws, str(n), "{ __typename }")
    outcomes: dict[str, str] = {}
    refusals = []
    while len(outcomes) < 101:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=90))
        if message["type"] in ("complete", "error"):
            outcomes[message["id"]] = message["type"]
        if message["type"] == "error":
            refusals.append(message["payload"][0])
    assert list(outcomes.values()).count("complete") == 100
    (refusal,) = refusals
    assert refusal["extensions"]["code"] == "RATE_LIMITED"
    assert 0 < refusal["extensions"]["retryAfter"] <= 60
    await ws.close()


@pytest.mark.parametrize(
    "message",
    [
        '"x"',
        "5",
        "null",
        '{"type": "subscribe", "id": "1", "payload": "x"}',
        '{"type": "subscribe", "id": "1", "payload": {"query": 5}}',
        '{"type": "subscribe", "id": 1, "payload": {"query": "{ __typename }"}}',
    ],
)
async def test_a_malformed_message_closes_the_socket_as_the_protocol_says(
    api_url: str, message: str
) -> None:
    ws = await open_socket(api_url, None)
    await ws.send(message)
    assert await until_closed(ws) == ([], 4400)


@pytest.fixture(scope="module")
def short_sessions_api(test_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An API whose access tokens live five seconds and whose sockets check their session
    every half second."""
    env = {
        **test_env,
        "SPECIALISTLY_ACCESS_TOKEN_TTL": "PT5S",
        "SPECIALISTLY_SESSION_CHECK_INTERVAL": "PT0.5S",
    }
    yield from serve(env, tmp_path_factory.mktemp("short-sessions"))


async def test_an_idle_socket_closes_when_its_token_expires(short_sessions_api: str) -> None:
    account = await register(GraphQLClient(short_sessions_api))
    ws = await open_subscription(short_sessions_api, account.token)
    assert await until_closed(ws) == ([], SESSION_ENDED)


async def test_an_idle_socket_closes_after_logout(short_sessions_api: str) -> None:
    account = await register(GraphQLClient(short_sessions_api))
    ws = await open_subscription(short_sessions_api, account.token)
    assert (await account.client.data("mutation { logout { ok } }"))["logout"]["ok"]
    assert await until_closed(ws) == ([], SESSION_ENDED)
