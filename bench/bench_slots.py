"""The slots query through the whole GraphQL stack vs. a raw endpoint sending the same JSON.

Both go through the same Starlette app (same middleware) over httpx's ASGI transport, so the
difference is what the query costs: GraphQL parsing and validation, two or three database
reads, slot computation and serialisation. Needs the real services:

    MONGODB_URL=mongodb://127.0.0.1:27019/ REDIS_URL=redis://127.0.0.1:6391/0 \\
        python bench/bench_slots.py [--requests 200] [--concurrency 1]

It works in a database of its own (bench_<random>) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import time as clock
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry import relay

from specialistly.core import catalog, working_hours
from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.services import Service
from specialistly.core.users import Role, SpecialistProfile, User
from specialistly.core.working_hours import DayHours
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.processes.app import create_app
from specialistly.runtime import start_runtime
from specialistly.settings import Settings

NO_LOGIN = "-"  # the bench specialist never logs in
BOOKINGS = 500
DAYS = 30
QUERY = """
query Slots($id: ID!, $from: DateTime!, $to: DateTime!) {
  slots(serviceId: $id, from: $from, to: $to, timezone: "America/New_York") {
    start end
    startLocal { dateTime date time timezone }
    endLocal { dateTime date time timezone }
  }
}
"""


async def seed(first_day: datetime) -> Service:
    """A specialist open 08:00-20:00 every day, one service, BOOKINGS bookings in DAYS days."""
    email = f"bench-{secrets.token_hex(4)}@example.com"
    user = await User(
        email=email,
        email_key=email,
        password_hash=NO_LOGIN,
        display_name="Bench",
        roles=[Role.SPECIALIST],
    ).insert()
    assert user.id is not None
    await SpecialistProfile(
        user_id=user.id, slug=f"bench-{secrets.token_hex(4)}", display_name="Bench"
    ).insert()
    await working_hours.set_weekly_hours(
        user, "UTC", [DayHours(d, [("08:00", "20:00")]) for d in range(7)]
    )
    service = await catalog.create_service(
        user,
        {
            "title": "Bench",
            "durations": [30],
            "price": 1000,
            "currency": "usd",
            "minimum_notice": 0,
            "slot_interval": 15,
            "buffer_after": 5,
        },
        video_providers=["jitsi"],
    )
    service = await catalog.publish_service(user, str(service.id))
    assert service.id is not None
    cells = [
        datetime.combine(first_day.date() + timedelta(days=d), time(8), tzinfo=UTC)
        + timedelta(minutes=30 * n)
        for d in range(DAYS)
        for n in range(24)
    ]
    rng = random.Random(7)
    bookings = [
        Booking(
            customer_id=user.id,
            specialist_id=user.id,
            service_id=service.id,
            start=start,
            end=start + timedelta(minutes=30),
            claim_start=start,
            claim_end=start + timedelta(minutes=30),
            price=1000,
            currency="usd",
            customer_timezone="UTC",
            idempotency_key=secrets.token_hex(8),
            status=BookingStatus.CONFIRMED,
            video_provider="jitsi",
        )
        for start in rng.sample(cells, BOOKINGS)
    ]
    await Booking.insert_many(bookings)
    return service


async def measure(
    name: str, send: Callable[[], Awaitable[httpx.Response]], requests: int, concurrency: int
) -> tuple[float, float]:
    latencies: list[float] = []

    async def one() -> None:
        started = clock.perf_counter()
        response = await send()
        latencies.append(clock.perf_counter() - started)
        assert response.status_code == 200, response.text

    for _ in range(10):  # warm up
        await one()
    latencies.clear()
    started = clock.perf_counter()
    for _ in range(requests // concurrency):
        await asyncio.gather(*(one() for _ in range(concurrency)))
    elapsed = clock.perf_counter() - started
    rate, mean = len(latencies) / elapsed, statistics.fmean(latencies) * 1000
    print(f"{name:<10} {rate:10.1f} req/s   mean {mean:8.2f} ms   p95 {p95(latencies):8.2f} ms")
    return rate, mean


def p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1] * 1000


async def main(requests: int, concurrency: int) -> None:
    # The request limits are lifted for the run: one client sends every request.
    unlimited = 10**9
    settings = Settings(
        database=f"bench_{secrets.token_hex(4)}",
        environment="test",
        requests_per_minute_anonymous=unlimited,
        requests_per_minute_user=unlimited,
    )
    print("rate limits lifted for this run (requests per minute: unlimited)")
    plugins = create_plugin_manager(settings)
    app = create_app(settings, plugins)
    precomputed: dict[str, bytes] = {}

    async def raw(request: Request) -> Response:
        await request.body()  # read the request as the GraphQL side does
        return Response(precomputed["body"], media_type="application/json")

    app.router.routes.append(Route("/raw-slots", raw, methods=["POST"]))
    runtime = await start_runtime(settings, plugins)
    app.state.runtime = runtime  # the ASGI transport runs no lifespan
    try:
        first_day = datetime.combine(
            datetime.now(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC
        )
        service = await seed(first_day)
        body: dict[str, Any] = {
            "query": QUERY,
            "variables": {
                "id": str(relay.GlobalID("Service", str(service.id))),
                "from": first_day.isoformat(),
                "to": (first_day + timedelta(days=DAYS)).isoformat(),
            },
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            reply = await http.post("/graphql", json=body)
            data = reply.json()
            assert "errors" not in data, data
            precomputed["body"] = reply.content
            print(
                f"{BOOKINGS} bookings, {DAYS} days: {len(data['data']['slots'])} slots,"
                f" {len(reply.content) / 1024:.0f} KiB per reply;"
                f" {requests} requests, concurrency {concurrency}"
            )
            g_rate, g_mean = await measure(
                "graphql", lambda: http.post("/graphql", json=body), requests, concurrency
            )
            r_rate, r_mean = await measure(
                "raw", lambda: http.post("/raw-slots", json=body), requests, concurrency
            )
        print(
            f"ratio      raw/graphql throughput {r_rate / g_rate:.1f}x,"
            f" graphql/raw latency {g_mean / r_mean:.1f}x"
        )
    finally:
        await runtime.mongo.drop_database(settings.database)
        await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency))
