"""In-app notifications over HTTP and WebSocket: the list, the unread count, marking read,
and `notificationAdded` served by another API process than the one that caused the event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import websockets
from beanie import PydanticObjectId
from strawberry import relay
from websockets.typing import Subprotocol

from specialistly.core.bookings import Booking
from specialistly.core.clock import utcnow
from specialistly.core.events import BOOKING_CONFIRMED, new_event
from specialistly.features.notifications import notifications_channel
from specialistly.runtime import Runtime
from tests.client import Account, GraphQLClient, booking_gid, register, user_id
from tests.factories import confirmed_booking_document
from tests.processes import Process
from tests.servers import serve
from tests.waiting import eventually

FIELDS = "id kind title body link read readAt createdAt booking { id status }"
LIST = f"""query L($first: Int!, $after: String, $unreadOnly: Boolean!) {{
  notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {{
    totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {FIELDS} }} }}
  unreadNotificationCount }}"""
MARK = f"""mutation M($id: ID!) {{ markNotificationRead(id: $id) {{
  notification {{ {FIELDS} }} errors {{ field code message }} }} }}"""
MARK_ALL = """mutation { markAllNotificationsRead { marked errors { field code message } } }"""
NODE = """query N($id: ID!) { node(id: $id) { id ... on Notification { title } } }"""
CANCEL = """mutation C($id: ID!) { cancelBooking(id: $id, reason: "Clash") { errors { code } } }"""
ADDED = f"subscription {{ notificationAdded {{ {FIELDS} }} }}"


async def confirmed(customer: Account, specialist: Account, runtime: Runtime) -> Booking:
    booking = confirmed_booking_document(
        user_id(specialist),
        utcnow() + timedelta(days=2),
        60,
        customer_id=user_id(customer),
        customer_timezone="Europe/Berlin",
    )
    booking.outbox = [new_event(BOOKING_CONFIRMED)]
    await booking.insert()
    booking.outbox[0].data["booking_id"] = str(booking.id)
    await booking.save()
    await runtime.publish(Booking, booking.id)
    return booking


async def listed(
    account: Account, *, first: int = 10, after: str | None = None, unread_only: bool = False
) -> dict[str, Any]:
    variables = {"first": first, "after": after, "unreadOnly": unread_only}
    return await account.client.data(LIST, variables)


async def told(account: Account, count: int, unread_only: bool = False) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = await listed(account, unread_only=unread_only)
        return found if found["notifications"]["totalCount"] >= count else None

    return await eventually(check, within=60)


async def test_the_viewer_lists_counts_and_marks_their_notifications(
    client: GraphQLClient, runtime: Runtime, worker: Process
) -> None:
    customer = await register(client)
    specialist = await register(client, "SPECIALIST")
    booking = await confirmed(customer, specialist, runtime)
    await told(customer, 1)
    cancelled = await customer.client.data(CANCEL, {"id": booking_gid(booking.id)})
    assert cancelled["cancelBooking"]["errors"] == []

    both = await told(customer, 2)
    assert both["unreadNotificationCount"] == 2
    newest, oldest = both["notifications"]["nodes"]
    assert (newest["kind"], oldest["kind"]) == ("booking.cancelled", "booking.confirmed")
    assert newest["title"] == "Booking cancelled" and not newest["read"]
    assert newest["booking"] == {"id": booking_gid(booking.id), "status": "CANCELLED"}
    page = await listed(customer, first=1)
    assert page["notifications"]["pageInfo"]["hasNextPage"]
    after = page["notifications"]["pageInfo"]["endCursor"]
    rest = await listed(customer, first=1, after=after)
    assert [n["id"] for n in rest["notifications"]["nodes"]] == [oldest["id"]]
    assert not rest["notifications"]["pageInfo"]["hasNextPage"]

    # Nobody else sees, reads or marks them.
    refused = await specialist.client.data(MARK, {"id": newest["id"]})
    assert refused["markNotificationRead"]["notification"] is None
    assert [e["code"] for e in refused["markNotificationRead"]["errors"]] == ["NOT_FOUND"]
    assert (await specialist.client.data(NODE, {"id": newest["id"]}))["node"] is None
    mine = await customer.client.data(NODE, {"id": newest["id"]})
    assert mine["node"] == {"id": newest["id"], "title": "Booking cancelled"}

    marked = (await customer.client.data(MARK, {"id": newest["id"]}))["markNotificationRead"]
    assert marked["errors"] == [] and marked["notification"]["read"]
    assert marked["notification"]["readAt"] is not None
    unread = await listed(customer, unread_only=True)
    assert [n["id"] for n in unread["notifications"]["nodes"]] == [oldest["id"]]
    assert unread["unreadNotificationCount"] == 1
    assert (await customer.client.data(MARK_ALL))["markAllNotificationsRead"] == {
        "marked": 1,
        "errors": [],
    }
    assert (await listed(customer))["unreadNotificationCount"] == 0
    specialists = await listed(specialist)
    assert specialists["unreadNotificationCount"] == 2  # theirs are their own


@pytest.fixture(scope="module")
def second_api(test_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another API process on the same database and broker."""
    yield from serve(test_env, tmp_path_factory.mktemp("second-api"), name="api-2")


async def subscribe(api_url: str, token: str) -> Any:
    ws = await websockets.connect(
        api_url.replace("http", "ws") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    )
    payload = {"authorization": f"Bearer {token}"}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ADDED}}))
    return ws


async def subscribed(runtime: Runtime, account: Account) -> None:
    """Wait until an API process listens on the account's channel."""
    channel = notifications_channel(runtime, user_id(account))

    async def check() -> bool:
        [(_, listeners)] = await runtime.redis.pubsub_numsub(channel)
        return int(listeners) >= 1

    await eventually(check, within=30)


async def next_added(ws: Any) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
    assert message["type"] == "next" and "errors" not in message["payload"], message
    added: dict[str, Any] = message["payload"]["data"]["notificationAdded"]
    return added


async def test_a_notification_reaches_a_subscriber_on_another_api_process(
    client: GraphQLClient, second_api: str, runtime: Runtime, worker: Process
) -> None:
    customer = await register(client)
    specialist = await register(client, "SPECIALIST")
    stranger = await register(client)
    ws = await subscribe(second_api, customer.token)
    outsider = await subscribe(second_api, stranger.token)
    await subscribed(runtime, customer)
    await subscribed(runtime, stranger)

    booking = await confirmed(customer, specialist, runtime)  # the worker tells of it
    first = await next_added(ws)
    assert first["kind"] == "booking.confirmed" and not first["read"]
    cancelled = await customer.client.data(CANCEL, {"id": booking_gid(booking.id)})
    assert cancelled["cancelBooking"]["errors"] == []
    second = await next_added(ws)
    while second["id"] == first["id"]:  # a redelivery pushes the same one again
        second = await next_added(ws)
    assert second["kind"] == "booking.cancelled"
    assert second["booking"] == {"id": booking_gid(booking.id), "status": "CANCELLED"}
    assert PydanticObjectId.is_valid(relay.GlobalID.from_id(second["id"]).node_id)
    stored = await listed(customer)
    assert {n["id"] for n in stored["notifications"]["nodes"]} == {first["id"], second["id"]}
    await ws.close()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(outsider.recv(), timeout=1)
    await outsider.close()
