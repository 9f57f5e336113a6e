"""Every query the platform sends has a filter FerretDB pushes down into PostgreSQL.

A real API server, worker and admin command run with a recorder of every filter they send
(tests/query_recorder.py), while a scenario goes through the product: accounts, profiles,
hours, services, the marketplace, slots, bookings and their lists, cancelling, moving,
event delivery to plugins, and each sweep with something to do. Each distinct filter is
then explained by FerretDB (tests/pushdown.py). Queries added later, plugins' included,
are recorded the same way as soon as the scenario reaches them.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from bson import ObjectId
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from strawberry import relay

from specialistly.core.bookings import day_number
from tests.client import Account, GraphQLClient, register
from tests.factories import monday, utc
from tests.processes import ROOT, Process, free_port
from tests.pushdown import EXCEPTIONS, Verdict, exception_key, judge
from tests.query_recorder import recorded
from tests.waiting import eventually

ERRORS = "errors { field code message }"


def _mutation(signature: str, call: str, result: str = "") -> str:
    return f"mutation M{signature} {{ {call} {{ {result} {ERRORS} }} }}"


PROFILE = _mutation("($input: UpdateProfileInput!)", "updateProfile(input: $input)")
HOURS = _mutation("($input: WeeklyHoursInput!)", "setWeeklyHours(input: $input)")
OVERRIDE = _mutation("($input: DateOverrideInput!)", "setDateOverride(input: $input)")
NO_OVERRIDE = f"""mutation R($date: String!) {{ removeDateOverride(date: $date) {{ {ERRORS} }} }}"""
CREATE_SERVICE = f"""mutation S($input: CreateServiceInput!) {{
  createService(input: $input) {{ service {{ id }} {ERRORS} }} }}"""
UPDATE_SERVICE = f"""mutation U($input: UpdateServiceInput!) {{
  updateService(input: $input) {{ {ERRORS} }} }}"""
PUBLISH = f"""mutation P($id: ID!) {{ publishService(id: $id) {{ {ERRORS} }} }}"""
MY_SERVICES = """query M($after: String) {
  myServices(first: 1, after: $after, status: [PUBLISHED]) {
    totalCount pageInfo { endCursor } nodes { id } }
  myAvailability { timezone } videoProviders { name } me { id email } }"""
SPECIALISTS = """query S(
  $expertise: String, $price: PriceRangeInput, $text: String, $after: String) {
  specialists(first: 1, expertise: $expertise, price: $price, text: $text, after: $after) {
    totalCount pageInfo { endCursor } nodes { slug priceMin } } }"""
PAGE = """query P($slug: String!) { specialist(slug: $slug, timezone: "Europe/Berlin") {
  specialist { displayName } offers { service { id title } nextSlots { start } } } }"""
SLOTS = """query Q($id: ID!, $from: DateTime!, $to: DateTime!) {
  slots(serviceId: $id, from: $from, to: $to, timezone: "Asia/Tokyo") { start } }"""
BOOK = f"""mutation B($input: CreateBookingInput!) {{
  createBooking(input: $input) {{ booking {{ id status }} {ERRORS} }} }}"""
CANCEL = f"""mutation C($id: ID!) {{ cancelBooking(id: $id, reason: "ill") {{ {ERRORS} }} }}"""
MOVE = f"""mutation M($id: ID!, $start: DateTime!) {{
  rescheduleBooking(id: $id, start: $start) {{ {ERRORS} }} }}"""
LISTED = """totalCount pageInfo { endCursor }
  nodes { id status service { title } customer { displayName specialistProfile { slug } }
          specialist { displayName specialistProfile { slug } } }"""
MINE = f"""query L($after: String, $status: [BookingStatus!], $from: DateTime) {{
  myBookings(first: 1, after: $after, status: $status, from: $from) {{ {LISTED} }} }}"""
THEIRS = f"""query L($after: String, $status: [BookingStatus!], $from: DateTime) {{
  specialistBookings(first: 1, after: $after, status: $status, from: $from) {{ {LISTED} }} }}"""
ALL = f"""query A($after: String, $status: [BookingStatus!]) {{
  bookings(first: 1, after: $after, status: $status) {{ {LISTED} }} }}"""
NODES = """query N($booking: ID!, $user: ID!, $service: ID!) {
  booking(id: $booking) { status meeting { joinUrl } }
  user: node(id: $user) { id } service: node(id: $service) { id } }"""
LOGIN = f"""mutation L($input: LoginInput!) {{
  login(input: $input) {{ tokens {{ accessToken refreshToken }} {ERRORS} }} }}"""
REFRESH = f"""mutation R($token: String!) {{
  refreshToken(refreshToken: $token) {{ tokens {{ accessToken }} {ERRORS} }} }}"""
LOGOUT = "mutation { logout { ok } }"
NOTIFICATIONS = """query N($after: String, $unreadOnly: Boolean!) {
  notifications(first: 1, after: $after, unreadOnly: $unreadOnly) {
    totalCount pageInfo { endCursor } nodes { id booking { id } } }
  unreadNotificationCount }"""
MARK_READ = _mutation("($id: ID!)", "markNotificationRead(id: $id)")
MARK_ALL_READ = _mutation("", "markAllNotificationsRead")


@dataclass
class Recorded:
    log: Path
    db: AsyncDatabase[Any]
    env: dict[str, str]
    client: GraphQLClient


@pytest.fixture
def recorded_env(test_env: dict[str, str]) -> dict[str, str]:
    """A database and queues of its own: no other test's process answers for these."""
    name = f"pushdown_{secrets.token_hex(4)}"
    return {**test_env, "SPECIALISTLY_DATABASE": name, "SPECIALISTLY_BROKER_NAMESPACE": name}


@pytest.fixture
def recorded_processes(recorded_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Path, str]]:
    log = tmp_path / "queries.jsonl"
    port = free_port()
    recorder = {"module": "tests.query_recorder"}
    api = Process(
        "api", [str(log), "serve", "--port", str(port)], recorded_env, tmp_path, **recorder
    )
    worker = Process(
        "worker", [str(log), "worker", "--threads", "2"], recorded_env, tmp_path, **recorder
    )
    api.start()
    worker.start()
    try:
        url = f"http://127.0.0.1:{port}"
        api.wait_until_ready(f"{url}/readyz")
        yield log, url
    finally:
        api.stop()
        worker.stop()
        # Once they stopped: the worker's next sweep would make the database again.
        mongo: MongoClient[dict[str, Any]] = MongoClient(recorded_env["MONGODB_URL"])
        with mongo:
            mongo.drop_database(recorded_env["SPECIALISTLY_DATABASE"])


@pytest_asyncio.fixture
async def scene(
    recorded_processes: tuple[Path, str], recorded_env: dict[str, str]
) -> AsyncIterator[Recorded]:
    log, url = recorded_processes
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(recorded_env["MONGODB_URL"], tz_aware=True)
    db = mongo[recorded_env["SPECIALISTLY_DATABASE"]]
    try:
        yield Recorded(log, db, recorded_env, GraphQLClient(url))
    finally:
        await mongo.close()


def _gid(kind: str, raw: object) -> str:
    return relay.to_base64(kind, str(raw))


def _raw(gid: str) -> ObjectId:
    return ObjectId(relay.GlobalID.from_id(gid).node_id)


async def _ok(client: GraphQLClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    data = await client.data(query, variables)
    for payload in data.values():
        assert not (isinstance(payload, dict) and payload.get("errors")), payload
    return data


async def _specialist(client: GraphQLClient) -> tuple[Account, list[str]]:
    owner = await register(client, "SPECIALIST", "Ada Pushdown")
    sc = owner.client
    slug = f"ada-{secrets.token_hex(4)}"
    profile = {
        "headline": "Indexes and plans",
        "bio": "Databases that read only what they need.",
        "expertise": ["databases"],
        "slug": slug,
        "currency": "EUR",
        "published": True,
    }
    await _ok(sc, PROFILE, {"input": profile})
    days = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    week = [{"weekday": d, "ranges": [{"start": "09:00", "end": "17:00"}]} for d in days]
    await _ok(sc, HOURS, {"input": {"timezone": "UTC", "days": week}})
    day_off = (monday(3) + timedelta(days=2)).isoformat()
    await _ok(sc, OVERRIDE, {"input": {"date": day_off, "ranges": []}})
    await _ok(sc, NO_OVERRIDE, {"date": day_off})
    services = []
    for title, price, caps in (("Free review", 0, {"maxPerDay": 3}), ("Paid plan", 5000, {})):
        service = {"title": title, "durationMinutesOptions": [30, 60], "price": price, **caps}
        created = await _ok(sc, CREATE_SERVICE, {"input": {**service, "currency": "EUR"}})
        service_id = created["createService"]["service"]["id"]
        await _ok(sc, UPDATE_SERVICE, {"input": {"id": service_id, "description": "Bring data."}})
        await _ok(sc, PUBLISH, {"id": service_id})
        services.append(service_id)
    listed = await _ok(sc, MY_SERVICES, {"after": None})
    await _ok(sc, MY_SERVICES, {"after": listed["myServices"]["pageInfo"]["endCursor"]})
    return owner, services


async def _browse(client: GraphQLClient, slug: str, service_id: str) -> None:
    price = {"currency": "EUR", "min": 0, "max": 10000}
    for filters in ({}, {"expertise": "databases"}, {"price": price}, {"text": "Ada"}):
        page = await _ok(client, SPECIALISTS, {**filters, "after": None})
        after = page["specialists"]["pageInfo"]["endCursor"]
        await _ok(client, SPECIALISTS, {**filters, "after": after})
    await _ok(client, PAGE, {"slug": slug})
    start = utc(monday(2), 0)
    window = {
        "id": service_id,
        "from": start.isoformat(),
        "to": (start + timedelta(days=14)).isoformat(),
    }
    await _ok(client, SLOTS, window)


async def _book(customer: Account, service_id: str, start: datetime, key: str) -> str:
    request = {
        "serviceId": service_id,
        "start": start.isoformat(),
        "durationMinutes": 30,
        "customerTimezone": "Europe/Berlin",
        "idempotencyKey": key,
    }
    booked = await _ok(customer.client, BOOK, {"input": request})
    again = await _ok(customer.client, BOOK, {"input": request})  # the same key: same booking
    assert again["createBooking"]["booking"]["id"] == booked["createBooking"]["booking"]["id"]
    booking_id: str = booked["createBooking"]["booking"]["id"]
    return booking_id


async def _accounts(client: GraphQLClient, account: Account) -> Account:
    login = {"email": account.email, "password": account.password}
    tokens = (await _ok(client, LOGIN, {"input": login}))["login"]["tokens"]
    refreshed = await _ok(client, REFRESH, {"token": tokens["refreshToken"]})
    fresh = refreshed["refreshToken"]["tokens"]["accessToken"]
    await _ok(client.as_user(tokens["accessToken"]), LOGOUT, {})  # revoked by the refresh
    await _ok(client.as_user(fresh), LOGOUT, {})
    return account


async def _lists(viewer: GraphQLClient, query: str, variables: dict[str, Any]) -> None:
    first = await _ok(viewer, query, variables)
    for listed in first.values():
        after = listed["pageInfo"]["endCursor"]
        await _ok(viewer, query, {**variables, "after": after})


def _admin(recorded_env: dict[str, str], log: Path, email: str) -> None:
    args = [sys.executable, "-m", "tests.query_recorder", str(log), "admin", "grant", email]
    subprocess.run(args, env={**recorded_env}, cwd=ROOT, check=True, capture_output=True)


async def _notifications(viewer: GraphQLClient) -> None:
    """The viewer's notifications (the worker adds them), listed, counted and marked read."""

    async def told() -> dict[str, Any] | None:
        found = await _ok(viewer, NOTIFICATIONS, {"after": None, "unreadOnly": False})
        return found if found["notifications"]["totalCount"] >= 2 else None

    first = await eventually(told, within=60)
    for unread_only in (False, True):
        page = await _ok(viewer, NOTIFICATIONS, {"after": None, "unreadOnly": unread_only})
        after = page["notifications"]["pageInfo"]["endCursor"]
        await _ok(viewer, NOTIFICATIONS, {"after": after, "unreadOnly": unread_only})
    [node] = first["notifications"]["nodes"]
    await _ok(viewer, MARK_READ, {"id": node["id"]})
    await _ok(viewer, MARK_ALL_READ, {})


async def _leave_work_behind(db: AsyncDatabase[Any], bookings: dict[str, ObjectId]) -> None:
    """What a crash, a lapse of time or a broken broker leaves for the sweeps."""
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    ended = long_ago + timedelta(minutes=30)
    collection = db["bookings"]
    await collection.update_one({"_id": bookings["paid"]}, {"$set": {"hold_expires_at": long_ago}})
    await collection.update_one(
        {"_id": bookings["past"]},
        {
            "$set": {
                "start": long_ago,
                "end": ended,
                "start_day": day_number(long_ago),
                "end_day": day_number(ended),
            }
        },
    )
    await collection.update_one(
        {"_id": bookings["stale"]}, {"$set": {"status": "reserving", "created_at": long_ago}}
    )
    await collection.update_one(
        {"_id": bookings["moving"]},
        {"$set": {"reschedule_started_at": long_ago, "rescheduling": True}},
    )
    forgotten = {"id": ObjectId(), "name": "test.forgotten", "version": 1, "data": {}}
    await collection.update_one(
        {"_id": bookings["moving"]},
        {
            "$push": {"outbox": {**forgotten, "occurred_at": long_ago}},
            "$set": {"outbox_waiting": True},
        },
    )


async def _swept(db: AsyncDatabase[Any], bookings: dict[str, ObjectId]) -> bool:
    found = {name: await db["bookings"].find_one({"_id": b}) for name, b in bookings.items()}
    return (
        found["paid"] is not None
        and found["paid"]["status"] == "expired"
        and found["past"] is not None
        and found["past"]["status"] == "completed"
        and found["stale"] is None
        and found["moving"] is not None
        and found["moving"]["reschedule_started_at"] is None
        and found["moving"]["outbox"] == []
        and await db["example_handled_events"].count_documents({"name": "test.forgotten"}) == 1
    )


async def _scenario(scene: Recorded) -> None:
    client = scene.client
    owner, (free, paid) = await _specialist(client)
    profile = await scene.db["specialist_profiles"].find_one({"user_id": _raw(owner.id)})
    assert profile is not None
    slug = profile["slug"]
    await _browse(client, slug, free)
    customer = await _accounts(client, await register(client, "CUSTOMER", "Cy Customer"))
    day = monday(2)
    keys = {name: f"{name}-{secrets.token_hex(6)}" for name in ("a", "b", "c", "d", "e", "f")}
    bookings = {
        "paid": await _book(customer, paid, utc(day, 9), keys["a"]),
        "past": await _book(customer, free, utc(day, 10), keys["b"]),
        "stale": await _book(customer, free, utc(day, 11), keys["c"]),
        "moving": await _book(customer, free, utc(day + timedelta(days=1), 9), keys["d"]),
    }
    cancelled = await _book(customer, paid, utc(day, 14), keys["e"])
    moved = await _book(customer, paid, utc(day, 15), keys["f"])
    await _ok(customer.client, MOVE, {"id": moved, "start": utc(day, 16).isoformat()})
    await _ok(owner.client, CANCEL, {"id": cancelled})
    await _ok(customer.client, NODES, {"booking": moved, "user": owner.id, "service": free})
    await _notifications(owner.client)
    await _ok(owner.client, NODES, {"booking": moved, "user": customer.id, "service": paid})
    await _lists(customer.client, MINE, {"status": None, "from": None})
    await _lists(customer.client, MINE, {"status": ["CONFIRMED"], "from": utc(day, 0).isoformat()})
    await _lists(owner.client, THEIRS, {"status": None, "from": None})
    await _lists(owner.client, THEIRS, {"status": ["PENDING_PAYMENT", "CONFIRMED"], "from": None})
    admin = await register(client, "CUSTOMER", "Al Admin")
    _admin(scene.env, scene.log, admin.email)
    await _lists(admin.client, ALL, {"status": None})
    await _lists(admin.client, ALL, {"status": ["PENDING_PAYMENT"]})
    raw = {name: _raw(gid) for name, gid in bookings.items()}
    await _leave_work_behind(scene.db, raw)

    async def swept() -> bool:
        return await _swept(scene.db, raw)

    await eventually(swept, within=60)


async def test_every_query_the_platform_sends_is_pushed_down(scene: Recorded) -> None:
    await _scenario(scene)
    shapes = recorded(scene.log)
    verdicts: list[Verdict] = [await judge(scene.db, *shape) for shape in shapes]
    failing = [
        v for v in verdicts if not v.ok and exception_key(v.collection, v.query) not in EXCEPTIONS
    ]
    assert not failing, "queries read more than their answer:\n" + "\n".join(
        v.explain() for v in failing
    )
    excused = {exception_key(v.collection, v.query) for v in verdicts if not v.ok}
    assert set(EXCEPTIONS) <= excused, f"exceptions no query needs: {set(EXCEPTIONS) - excused}"
    # The scenario reached every part of the platform that reads or writes documents.
    reached = {collection for collection, _, _ in shapes}
    assert reached >= {
        "users",
        "specialist_profiles",
        "services",
        "availability",
        "bookings",
        "slot_claims",
        "booking_places",
        "events",
        "locks",
        "auth_sessions",
        "example_handled_events",
        "notifications",
    }, reached
