"""Who may look up whom by id, ids that cannot be enumerated, and ids and cursors that are
not what they claim to be."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from beanie import PydanticObjectId
from strawberry import relay

from specialistly.core import accounts
from tests.bookings_fixtures import book, day_at, make_availability, make_service
from tests.client import Account, GraphQLClient, register

pytestmark = pytest.mark.usefixtures("runtime")

USER = """
query N($id: ID!) {
  node(id: $id) { id ... on User { displayName roles createdAt specialistProfile { slug } } }
}
"""
PUBLISH_PROFILE = "mutation { updateProfile(input: {published: true}) { errors { code } } }"
SPECIALISTS = """
query S($after: String) { specialists(first: 5, after: $after) { totalCount edges { cursor } } }
"""


def object_id(account: Account) -> PydanticObjectId:
    return PydanticObjectId(relay.GlobalID.from_id(account.id).node_id)


async def node(client: GraphQLClient, global_id: str) -> Any:
    return (await client.data(USER, {"id": global_id}))["node"]


async def test_customers_are_visible_only_to_themselves_admins_and_their_specialists(
    api_url: str,
) -> None:
    anonymous = GraphQLClient(api_url)
    customer = await register(anonymous, name="Carla Customer")
    stranger = await register(anonymous, name="Stan Stranger")
    admin = await register(anonymous, name="Ada Admin")
    await accounts.set_admin(admin.email, admin=True)

    assert await node(anonymous, customer.id) is None
    assert await node(stranger.client, customer.id) is None
    assert (await node(customer.client, customer.id))["displayName"] == "Carla Customer"
    assert (await node(admin.client, customer.id))["roles"] == ["CUSTOMER"]

    # The specialist of one of her bookings may see her name, and she theirs.
    specialist = await register(anonymous, "SPECIALIST", "Sol Specialist")
    await make_availability(object_id(specialist))
    service = await make_service(object_id(specialist))
    customer_user = await accounts.get_user(object_id(customer))
    await book(customer_user, service, day_at(10))
    assert (await node(specialist.client, customer.id))["displayName"] == "Carla Customer"
    assert (await node(customer.client, specialist.id))["displayName"] == "Sol Specialist"
    assert await node(stranger.client, specialist.id) is None


async def test_specialists_are_public_once_their_profile_is_published(api_url: str) -> None:
    anonymous = GraphQLClient(api_url)
    specialist = await register(anonymous, "SPECIALIST", "Pia Public")
    assert await node(anonymous, specialist.id) is None
    own = await node(specialist.client, specialist.id)
    assert own["specialistProfile"]["slug"].startswith("pia-public")

    # A published service shows who offers it, but not a profile that is not published.
    await make_availability(object_id(specialist))
    service = await make_service(object_id(specialist))
    offered = await anonymous.data(
        "query S($id: ID!) { node(id: $id) { ... on Service {"
        " specialist { displayName specialistProfile { slug } } } } }",
        {"id": relay.to_base64("Service", str(service.id))},
    )
    assert offered["node"]["specialist"] == {"displayName": "Pia Public", "specialistProfile": None}

    published = await specialist.client.data(PUBLISH_PROFILE)
    assert published["updateProfile"]["errors"] == []
    seen = await node(anonymous, specialist.id)
    assert seen["displayName"] == "Pia Public"
    assert seen["specialistProfile"]["slug"].startswith("pia-public")


async def test_ids_of_users_made_one_after_the_other_share_nothing(api_url: str) -> None:
    client = GraphQLClient(api_url)
    first, second = await register(client), await register(client)
    a, b = str(object_id(first)), str(object_id(second))
    # A generated ObjectId is a timestamp, a per-process value and a counter: the next
    # user's id is a few guesses away. Random ids have no common part.
    assert a[8:18] != b[8:18]


@pytest.mark.parametrize("type_name", ["Node", "PageInfo", "Query", "Nothing", ""])
async def test_node_of_a_type_that_is_no_node_is_null(
    client: GraphQLClient, type_name: str
) -> None:
    body = await client.execute(
        "query N($id: ID!) { node(id: $id) { id } }",
        {"id": relay.to_base64(type_name, "6b075e5629a94d8d4db7e470")},
    )
    assert body == {"data": {"node": None}}


def cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


@pytest.mark.parametrize(
    "after",
    [
        cursor([{"$exists": True}, {"o": "0" * 24}]),
        cursor([{"$gt": ""}, {"$gt": ""}]),
        cursor(["Ann", {"$ne": None}]),
        cursor(["Ann", {"o": "not an object id"}]),
        cursor(["Ann", {"o": 5}]),
        cursor(["Ann", {"o": "0" * 24, "$where": "1"}]),
        cursor([2**70, {"o": "0" * 24}]),
        cursor(["Ann"]),
        cursor({"display_name": "Ann"}),
        cursor([[[[[["deep"]]]]], {"o": "0" * 24}]),
        base64.urlsafe_b64encode(b"[" * 5000).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe not json").decode(),
        "%%%",
        "é",
        "x" * 5000,
    ],
)
async def test_cursors_carry_typed_values_only(client: GraphQLClient, after: str) -> None:
    body = await client.execute(SPECIALISTS, {"after": after})
    assert body["data"] is None
    assert body["errors"][0]["message"] == "This cursor is not valid."
    assert body["errors"][0]["extensions"]["code"] == "INVALID"


async def test_a_cursor_the_api_gave_still_pages(api_url: str) -> None:
    client = GraphQLClient(api_url)
    for name in ("Cursor Ann", "Cursor Bob"):
        specialist = await register(client, "SPECIALIST", name)
        assert (await specialist.client.data(PUBLISH_PROFILE))["updateProfile"]["errors"] == []
    query = """query S($after: String) { specialists(first: 1, after: $after, text: "Cursor ")
        { edges { cursor node { displayName } } pageInfo { hasNextPage } } }"""
    names: list[str] = []
    after = None
    while True:
        page = (await client.data(query, {"after": after}))["specialists"]
        names += [e["node"]["displayName"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["edges"][-1]["cursor"]
    assert names[:2] == ["Cursor Ann", "Cursor Bob"]
