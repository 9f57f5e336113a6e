"""A list counts its matches only when the client asks for `totalCount` and the page
cannot tell it: the count reads every match (on FerretDB v1, the whole collection)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest_asyncio
from pymongo import AsyncMongoClient
from starlette.requests import Request

from specialistly.api.context import Context
from specialistly.api.pagination import Total
from specialistly.api.schema import build_schema
from specialistly.core.bookings import Booking
from specialistly.core.services import Service
from specialistly.core.users import User
from specialistly.runtime import Runtime
from specialistly.settings import Settings
from tests.commands import Commands
from tests.factories import book, hours, make_service, make_specialist, monday, utc
from tests.faults import ResettingProxy

BOOKINGS = """
query Theirs($first: Int!, $after: String) {
  specialistBookings(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } nodes { id }
  }
}
"""
COUNTED = """
query Theirs($first: Int!, $after: String) {
  specialistBookings(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id }
    again: totalCount
  }
}
"""


async def specialist_with_bookings(count: int) -> Service:
    owner = await make_specialist()
    await hours(owner)
    service = await make_service(owner, durations=[30], slot_interval=30)
    for n in range(count):
        await book(service, utc(monday(1), 9) + timedelta(minutes=30 * n), 30)
    return service


class Lists:
    """specialistBookings, executed in process for one specialist."""

    def __init__(self, runtime: Runtime, settings: Settings, bearer: str) -> None:
        self._schema = build_schema(runtime.plugins, settings)
        self._runtime = runtime
        self._bearer = bearer

    async def page(self, query: str, first: int, after: str | None = None) -> dict[str, Any]:
        connection = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 1)})
        context = Context(runtime=self._runtime, connection=connection, bearer=self._bearer)
        variables = {"first": first, "after": after}
        result = await self._schema.execute(query, variables, context_value=context)
        assert result.errors is None, result.errors
        assert result.data is not None
        page: dict[str, Any] = result.data["specialistBookings"]
        return page


async def lists_of(service: Service, runtime: Runtime, settings: Settings) -> Lists:
    owner = await User.get(service.specialist_id)
    assert owner is not None
    tokens = await runtime.tokens.start_session(owner)
    return Lists(runtime, settings, tokens.access_token)


def counts(recorded: Commands) -> int:
    """Counts of bookings sent (pymongo counts with an aggregate)."""
    return recorded.reads().count(("aggregate", "bookings"))


async def test_a_page_that_does_not_show_the_total_does_not_count(
    runtime: Runtime,
    settings: Settings,
    commands: Commands,
) -> None:
    lists = await lists_of(await specialist_with_bookings(5), runtime, settings)
    commands.events.clear()
    page = await lists.page(BOOKINGS, first=2)
    assert len(page["nodes"]) == 2 and page["pageInfo"]["hasNextPage"]
    assert counts(commands) == 0
    assert commands.reads().count(("find", "bookings")) == 1


async def test_a_total_the_page_cannot_tell_is_counted_once(
    runtime: Runtime,
    settings: Settings,
    commands: Commands,
) -> None:
    lists = await lists_of(await specialist_with_bookings(5), runtime, settings)
    commands.events.clear()
    first = await lists.page(COUNTED, first=2)
    assert (first["totalCount"], first["again"], len(first["nodes"])) == (5, 5, 2)
    assert counts(commands) == 1

    # A later page knows nothing of the ones before: counted, even when it is the last.
    commands.events.clear()
    after = first["pageInfo"]["endCursor"]
    last = await lists.page(COUNTED, first=20, after=after)
    assert (last["totalCount"], len(last["nodes"]), last["pageInfo"]["hasNextPage"]) == (
        5,
        3,
        False,
    )
    assert counts(commands) == 1


async def test_a_first_page_holding_every_match_tells_the_total_without_counting(
    runtime: Runtime,
    settings: Settings,
    commands: Commands,
) -> None:
    for held in (0, 3, 20):
        service = await make_service(await make_specialist(), durations=[30])
        for n in range(held):
            await book(service, utc(monday(1), 9) + timedelta(minutes=30 * n), 30)
        lists = await lists_of(service, runtime, settings)
        commands.events.clear()
        page = await lists.page(COUNTED, first=20)
        assert (page["totalCount"], len(page["nodes"])) == (held, held)
        assert not page["pageInfo"]["hasNextPage"]
        assert counts(commands) == 0


SEARCH = """
query Search($expertise: String!) {
  specialists(first: 20, expertise: $expertise) { totalCount nodes { slug } }
}
"""


async def test_a_marketplace_search_that_fits_one_page_reads_its_matches_once(
    runtime: Runtime,
    settings: Settings,
    commands: Commands,
) -> None:
    schema = build_schema(runtime.plugins, settings)
    connection = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 1)})
    context = Context(runtime=runtime, connection=connection, bearer=None)
    commands.events.clear()
    result = await schema.execute(
        SEARCH, {"expertise": "nobody-has-this-tag"}, context_value=context
    )
    assert result.errors is None and result.data is not None
    assert result.data["specialists"] == {"totalCount": 0, "nodes": []}
    assert commands.reads() == [("find", "specialist_profiles")]


@pytest_asyncio.fixture(loop_scope="session")
async def flaky_bookings(proxy: ResettingProxy, settings: Settings) -> AsyncIterator[Any]:
    """The bookings collection, reached through the resetting proxy."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{proxy.port}/", tz_aware=True
    )
    try:
        yield client[settings.database][Booking.get_pymongo_collection().name]
    finally:
        proxy.fail_next(0)
        await client.close()


async def test_a_count_is_tried_again_when_the_database_is_briefly_unavailable(
    proxy: ResettingProxy, flaky_bookings: Any
) -> None:
    service = await specialist_with_bookings(3)
    total = Total(flaky_bookings, {"specialist_id": service.specialist_id}, None)
    resets = proxy.resets
    # The driver tries a read again once by itself; the second reset reaches the count.
    proxy.fail_next(2)
    assert await total.count() == 3
    assert proxy.resets == resets + 2
