"""Database round trips per request stay constant however much data there is (no N+1)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

from beanie import PydanticObjectId
from starlette.requests import Request
from strawberry import relay

from specialistly.api.context import Context
from specialistly.api.schema import build_schema
from specialistly.core import bookings, reservations, schedule
from specialistly.core import busy as busy_time
from specialistly.core.bookings import BookingStatus
from specialistly.core.events import Event
from specialistly.core.services import Service
from specialistly.core.slots import Interval
from specialistly.core.users import SpecialistProfile, User
from specialistly.features import notifications_inbox as inbox
from specialistly.runtime import Runtime
from specialistly.settings import Settings
from tests.bookings_fixtures import make_user
from tests.commands import Commands
from tests.factories import book, hours, make_service, make_specialist, monday, utc

SLOTS = """
query Slots($id: ID!, $from: DateTime!, $to: DateTime!) {
  slots(serviceId: $id, from: $from, to: $to, timezone: "Europe/Berlin") {
    start startLocal { dateTime }
  }
}
"""


async def specialist_with_bookings(count: int) -> Service:
    owner = await make_specialist()
    await hours(owner)  # 09:00-17:00 every day, UTC
    service = await make_service(owner, durations=[30], slot_interval=30)
    first = monday(1)
    # Bookings spread over 30 days, at most 16 a day (the day's half hours).
    for n in range(count):
        start = utc(first + timedelta(days=n // 16), 9) + timedelta(minutes=30 * (n % 16))
        await book(service, start, 30)
    return service


async def test_slots_reads_are_constant_in_the_number_of_bookings(
    runtime: Runtime, settings: Settings, commands: Commands
) -> None:
    quiet, busy = await specialist_with_bookings(5), await specialist_with_bookings(200)
    wanted = Interval(utc(monday(1), 0), utc(monday(1) + timedelta(days=30), 0))
    schema = build_schema(runtime.plugins, settings)
    connection = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 1)})

    core_reads: list[list[tuple[str, str]]] = []
    api_reads: list[list[tuple[str, str]]] = []
    found: list[int] = []
    for service in (quiet, busy):
        await busy_time.rebuild(service.specialist_id)  # as claiming the slots keeps it
        commands.events.clear()
        slots = await schedule.service_slots(service, wanted, now=wanted.start)
        core_reads.append(commands.reads())
        found.append(len(slots))

        variables: dict[str, Any] = {
            "id": str(relay.GlobalID("Service", str(service.id))),
            "from": wanted.start.isoformat(),
            "to": wanted.end.isoformat(),
        }
        for change in (None, None, busy_time.rebuild):
            if change is not None:
                await change(service.specialist_id)
            commands.events.clear()
            context = Context(runtime=runtime, connection=connection, bearer=None)
            result = await schema.execute(SLOTS, variables, context_value=context)
            assert result.errors is None, result.errors
            assert result.data is not None
            api_reads.append(commands.reads())

    assert found[0] > found[1] > 0  # the bookings were read and used
    assert core_reads[0] == core_reads[1] == [("find", "availability"), ("find", "busy_times")]
    # The service, the hours and the busy time are read once, then kept in memory until
    # they change (core/read_cache.py).
    first: list[tuple[str, str]] = [("find", "services")]
    assert api_reads == [first, [], [("find", "busy_times")]] * 2


async def test_a_bearer_token_reads_its_session_and_its_user_side_by_side(
    runtime: Runtime, commands: Commands
) -> None:
    user = await make_user()
    tokens = await runtime.tokens.start_session(user)
    # Connections for both reads, as a serving process has: a fresh client has one.
    await asyncio.gather(*(User.get(user.id) for _ in range(4)))
    commands.timeline.clear()
    identity = await runtime.tokens.identify(tokens.access_token)
    assert identity.user.id == user.id
    assert sorted(commands.timeline[:2]) == [("sent", "auth_sessions"), ("sent", "users")]
    assert commands.timeline[2:] == [("answered", ""), ("answered", "")]


async def test_busy_time_is_read_by_id_and_built_once(commands: Commands) -> None:
    service = await specialist_with_bookings(3)
    wanted = Interval(utc(monday(1), 0), utc(monday(1) + timedelta(days=2), 0))
    first = await schedule.service_slots(service, wanted, now=wanted.start)
    builds = [e.command for e in commands.events if e.command.get("find") == "bookings"]
    assert [b["filter"]["specialist_id"] for b in builds] == [service.specialist_id]

    commands.events.clear()
    assert await schedule.service_slots(service, wanted, now=wanted.start) == first
    (read,) = [e.command for e in commands.events if e.command.get("find") == "busy_times"]
    assert read["filter"] == {"_id": service.specialist_id}
    assert not [e for e in commands.events if e.command.get("find") == "bookings"]


BOOKINGS = """
query Mine {
  specialistBookings(first: 50) {
    totalCount
    edges { node { id status service { title } customer { displayName }
                   specialist { displayName } } }
  }
}
"""


async def test_a_bookings_list_reads_each_related_document_once_by_id(
    runtime: Runtime, settings: Settings, commands: Commands
) -> None:
    schema = build_schema(runtime.plugins, settings)
    connection = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 1)})
    reads: list[list[tuple[str, str]]] = []
    for count in (3, 40):
        service = await specialist_with_bookings(count)
        owner = await User.get(service.specialist_id)
        assert owner is not None
        tokens = await runtime.tokens.start_session(owner)
        context = Context(runtime=runtime, connection=connection, bearer=tokens.access_token)
        commands.events.clear()
        result = await schema.execute(BOOKINGS, context_value=context)
        assert result.errors is None, result.errors
        assert result.data is not None
        listed = result.data["specialistBookings"]
        assert (listed["totalCount"], len(listed["edges"])) == (count, count)
        assert {e["node"]["service"]["title"] for e in listed["edges"]} == {service.title}
        reads.append(commands.reads())
    # The list's own reads are the same however many bookings it holds. Its users and
    # services are read one `_id` lookup each, all at once (FerretDB pushes no `$in` down,
    # so one query for all would read the whole collection): they follow the page, never
    # the size of their collections. Every booking here has a customer of its own.
    for count, read in zip((3, 40), reads, strict=True):
        assert (
            read.count(("find", "users")) == 2 + count
        )  # the viewer, the specialist, each customer
        assert read.count(("find", "services")) == 1
    own = [[r for r in read if r[1] not in ("users", "services")] for read in reads]
    assert own[0] == own[1]


async def test_a_new_booking_reads_no_booking_by_its_key(commands: Commands) -> None:
    """The unique (customer, key) index tells a new key from a repeated one: a request
    reads the booking its key made only when the insert says there is one."""
    owner = await make_specialist()
    await hours(owner)
    service = await make_service(owner, durations=[30], slot_interval=30)
    customer = await make_specialist()  # any other user may book
    start = utc(monday(1), 10)

    def by_key() -> list[dict[str, Any]]:
        return [
            e.command["filter"]
            for e in commands.events
            if e.command.get("find") == "bookings" and "idempotency_key" in e.command["filter"]
        ]

    commands.events.clear()
    made = await reservations.create_booking(
        customer, booking_request(service, start), payment_hold=timedelta(minutes=15)
    )
    assert by_key() == []
    again = await reservations.create_booking(
        customer, booking_request(service, start), payment_hold=timedelta(minutes=15)
    )
    assert again.id == made.id
    assert [f["idempotency_key"] for f in by_key()] == ["key-of-one-booking"]


async def test_a_booking_is_checked_against_the_service_and_hours_the_slots_came_from(
    commands: Commands,
) -> None:
    """Both through the read cache, as the slots shown were: once cached, a booking sends
    no read of either; a change of either reaches the next booking (test_bookings)."""
    owner = await make_specialist()
    await hours(owner)
    service = await make_service(owner, durations=[30], slot_interval=30)
    customer = await make_specialist()
    hold = timedelta(minutes=15)
    await reservations.create_booking(
        customer, booking_request(service, utc(monday(1), 10)), payment_hold=hold
    )
    commands.events.clear()
    later = dataclasses.replace(
        booking_request(service, utc(monday(1), 11)), idempotency_key="key-of-another-booking"
    )
    made = await reservations.create_booking(customer, later, payment_hold=hold)
    assert made.id is not None
    read = commands.reads()
    assert ("find", "services") not in read and ("find", "availability") not in read, read


def booking_request(service: Service, start: datetime) -> reservations.BookingRequest:
    return reservations.BookingRequest(
        service_id=str(service.id),
        start=start,
        duration_minutes=30,
        customer_timezone="UTC",
        idempotency_key="key-of-one-booking",
    )


NOTIFICATIONS = """
query Told { notifications(first: 50) { totalCount nodes { id title booking { id } } } }
"""


async def test_notifications_read_their_booking_once(
    runtime: Runtime, settings: Settings, commands: Commands
) -> None:
    schema = build_schema(runtime.plugins, settings)
    connection = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 1)})
    reads: list[list[tuple[str, str]]] = []
    for count in (3, 30):
        service = await make_service(await make_specialist(), durations=[30])
        booking = await book(service, utc(monday(1), 9), 30)
        customer = await make_user()
        assert customer.id is not None
        await booking.set({"customer_id": customer.id})
        for _ in range(count):
            event_id = PydanticObjectId()
            told = inbox.Notification(
                key=f"{event_id}:{customer.id}",
                user_id=customer.id,
                kind="booking.confirmed",
                event_id=event_id,
                booking_id=booking.id,
                title="Booking confirmed",
                body="Told.",
            )
            await inbox.add(told)
        tokens = await runtime.tokens.start_session(customer)
        context = Context(runtime=runtime, connection=connection, bearer=tokens.access_token)
        commands.events.clear()
        result = await schema.execute(NOTIFICATIONS, context_value=context)
        assert result.errors is None, result.errors
        assert result.data is not None
        nodes = result.data["notifications"]["nodes"]
        assert len(nodes) == count and all(n["booking"] is not None for n in nodes)
        reads.append(commands.reads())
    assert reads[0] == reads[1]
    assert reads[0].count(("find", "bookings")) == 1


PAGE = """
query Page($slug: String!) {
  specialist(slug: $slug) { offers { service { id } nextSlots { start } } }
}
"""


async def test_public_reads_do_not_look_the_viewer_up(
    runtime: Runtime, settings: Settings, commands: Commands
) -> None:
    """A signed-in customer reading a published page or slots costs no session or user
    read: who is looking only matters for drafts and unpublished pages."""
    service = await specialist_with_bookings(2)
    profile = await SpecialistProfile.find_one(SpecialistProfile.user_id == service.specialist_id)
    assert profile is not None
    customer = await make_user()
    tokens = await runtime.tokens.start_session(customer)
    schema = build_schema(runtime.plugins, settings)
    connection = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 1)})
    wanted = Interval(utc(monday(1), 0), utc(monday(1) + timedelta(days=2), 0))
    slots_variables: dict[str, Any] = {
        "id": str(relay.GlobalID("Service", str(service.id))),
        "from": wanted.start.isoformat(),
        "to": wanted.end.isoformat(),
    }
    for query, variables in ((SLOTS, slots_variables), (PAGE, {"slug": profile.slug})):
        context = Context(runtime=runtime, connection=connection, bearer=tokens.access_token)
        commands.events.clear()
        result = await schema.execute(query, variables, context_value=context)
        assert result.errors is None, result.errors
        assert result.data is not None and all(result.data.values())
        read = {collection for _, collection in commands.reads()}
        assert "auth_sessions" not in read and "users" not in read, read


async def test_a_change_under_its_lock_is_published_without_locking_or_reading_again(
    runtime: Runtime, commands: Commands
) -> None:
    owner = await make_specialist()
    await hours(owner)
    service = await make_service(owner, durations=[30], slot_interval=30, price=5000)
    booking = await book(service, utc(monday(1), 10), 30, status=BookingStatus.PENDING_PAYMENT)
    assert booking.id is not None
    commands.events.clear()
    async with runtime.unit_of_work():
        await bookings.confirm(booking.id)
    sent = [(e.command_name, str(e.command.get(e.command_name))) for e in commands.events]
    assert sent.count(("find", "bookings")) == 1  # confirm's own; the outbox is not read
    assert sent.count(("insert", "locks")) == 1  # the change's; the publisher held it
    assert sent.count(("insert", "events")) == 1
    # The session's worker may add the meeting's event meanwhile; the booking's is stored once.
    confirmed = Event.find(
        Event.subject == f"bookings:{booking.id}", Event.name == "booking.confirmed"
    )
    assert await confirmed.count() == 1
