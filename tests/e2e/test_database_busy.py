"""A database that is briefly unavailable never answers "Unexpected error.".

The API server reaches the real database through a proxy that resets connections on
demand (tests/faults.py): reads are resolved again, and a change that cannot be finished
answers TRY_AGAIN, after which the same request succeeds.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from specialistly.api.errors import READ_ATTEMPTS
from tests.bookings_fixtures import day_at, make_availability, make_service
from tests.client import GraphQLClient, register, service_gid, user_id
from tests.faults import ResettingProxy
from tests.servers import serve

SERVICE = """
query Service($id: ID!) {
  node(id: $id) { ... on Service { title } }
}
"""

CREATE = """
mutation Create($input: CreateBookingInput!) {
  createBooking(input: $input) {
    booking { status start }
    errors { field code message }
  }
}
"""

pytestmark = pytest.mark.usefixtures("runtime")


@pytest.fixture(scope="module")
def flaky_api(
    proxy: ResettingProxy, test_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An API server on the session's database, reaching it through the proxy."""
    env = {**test_env, "MONGODB_URL": f"mongodb://127.0.0.1:{proxy.port}/"}
    yield from serve(env, Path(tmp_path_factory.mktemp("flaky")), "flaky-api")


@pytest.fixture(autouse=True)
def healthy(proxy: ResettingProxy) -> Iterator[None]:
    proxy.fail_next(0)
    yield
    proxy.fail_next(0)


async def test_a_read_is_resolved_again_after_a_reset(
    flaky_api: str, proxy: ResettingProxy
) -> None:
    service = await make_service(title="Steady")
    # The driver retries a read once by itself; the second reset reaches the platform.
    resets = proxy.resets
    proxy.fail_next(2)
    data = await GraphQLClient(flaky_api).data(SERVICE, {"id": service_gid(service.id)})
    assert data["node"] == {"title": "Steady"}
    assert proxy.resets == resets + 2


async def test_a_read_that_keeps_failing_answers_try_again(
    flaky_api: str, proxy: ResettingProxy
) -> None:
    service = await make_service()
    proxy.fail_next(2 * READ_ATTEMPTS)
    body = await GraphQLClient(flaky_api).execute(SERVICE, {"id": service_gid(service.id)})
    assert body["data"] == {"node": None}
    [error] = body["errors"]
    assert error["extensions"] == {"code": "TRY_AGAIN"}
    assert error["message"] != "Unexpected error."


async def test_a_booking_the_database_interrupted_answers_try_again_then_succeeds(
    flaky_api: str, proxy: ResettingProxy
) -> None:
    specialist = await register(GraphQLClient(flaky_api), "SPECIALIST")
    await make_availability(user_id(specialist))
    service = await make_service(user_id(specialist))
    customer = await register(GraphQLClient(flaky_api))
    booking = {
        "serviceId": service_gid(service.id),
        "start": day_at(10).isoformat(),
        "durationMinutes": 30,
        "customerTimezone": "UTC",
        "idempotencyKey": secrets.token_hex(8),
    }
    proxy.fail_next(1000)  # down for longer than the request
    data = await customer.client.data(CREATE, {"input": booking})
    assert data["createBooking"]["booking"] is None
    [problem] = data["createBooking"]["errors"]
    assert problem["code"] == "TRY_AGAIN"

    proxy.fail_next(0)  # back: the same request, same key, books the slot
    data = await customer.client.data(CREATE, {"input": booking})
    assert data["createBooking"]["errors"] == []
    assert data["createBooking"]["booking"]["status"] == "CONFIRMED"
