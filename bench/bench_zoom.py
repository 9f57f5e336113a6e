"""booking.confirmed -> meeting stored, through the shared meeting path and the Zoom plugin,
against the Zoom fake with 150 ms injected latency per request; the baseline, measured in
the same run, is one bare meeting creation at the fake (the floor any implementation pays).
Needs the real services:

    MONGODB_URL=mongodb://127.0.0.1:27018/ REDIS_URL=redis://127.0.0.1:6390/0 \\
        python -m bench.bench_zoom [--bookings 100] [--latency 0.15] [--concurrency 1]

Each timed step starts from a stored confirmed booking and ends when its meeting is on the
booking (the worker's job without the queue hop: claim, token, pacing, create, store).
Pacing is off for the run (one specialist, many bookings) and the run says so. It works in
a database of its own (bench_<random>) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import time as clock
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from beanie import PydanticObjectId

from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.users import Role, User
from specialistly.features import meetings
from specialistly.runtime import Runtime, start_runtime
from specialistly.settings import Settings
from specialistly_zoom import oauth
from specialistly_zoom.crypto import new_key
from specialistly_zoom.provider import ZoomProvider
from tests.zoom_fake import ZoomFake, run

REDIRECT = "http://127.0.0.1:9/plugins/zoom/oauth/callback"
NO_LOGIN = "-"  # the bench specialist never logs in


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, latencies: list[float]) -> None:
    ms = [s * 1000 for s in latencies]
    print(
        f"{name:<22} p50 {percentile(ms, 0.5):8.1f} ms   p99 {percentile(ms, 0.99):8.1f} ms"
        f"   mean {statistics.fmean(ms):8.1f} ms   n={len(ms)}"
    )


async def timed(steps: list[Callable[[], Awaitable[object]]], concurrency: int) -> list[float]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(step: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            started = clock.perf_counter()
            await step()
            latencies.append(clock.perf_counter() - started)

    await asyncio.gather(*(one(step) for step in steps))
    return latencies


async def connect(provider: ZoomProvider, specialist: PydanticObjectId) -> None:
    url = await oauth.authorize_url(provider.connections, specialist, REDIRECT)
    async with httpx.AsyncClient() as browser:
        back = parse_qs(urlsplit((await browser.get(url)).headers["location"]).query)
    await oauth.complete(
        provider.connections,
        state=back["state"][0],
        code=back["code"][0],
        error=None,
        redirect_uri=REDIRECT,
    )


def booking(specialist: PydanticObjectId, n: int) -> Booking:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2, hours=n)
    return Booking(
        customer_id=PydanticObjectId(),
        specialist_id=specialist,
        service_id=PydanticObjectId(),
        start=start,
        end=start + timedelta(hours=1),
        claim_start=start,
        claim_end=start + timedelta(hours=1),
        price=0,
        currency="eur",
        customer_timezone="UTC",
        status=BookingStatus.CONFIRMED,
        idempotency_key=secrets.token_hex(8),
        video_provider="zoom",
    )


async def bench(fake: ZoomFake, bookings: int, latency: float, concurrency: int) -> None:
    os.environ.update(
        {
            "SPECIALISTLY_DATABASE": f"bench_{secrets.token_hex(4)}",
            "SPECIALISTLY_ENVIRONMENT": "test",
            "SPECIALISTLY_JWT_SECRET": secrets.token_urlsafe(32),
            "SPECIALISTLY_ZOOM_CLIENT_ID": fake.client_id,
            "SPECIALISTLY_ZOOM_CLIENT_SECRET": fake.client_secret,
            "SPECIALISTLY_ZOOM_OAUTH_URL": fake.url,
            "SPECIALISTLY_ZOOM_API_URL": f"{fake.url}/v2",
            "SPECIALISTLY_ZOOM_TOKEN_KEYS": f'["{new_key()}"]',
            "SPECIALISTLY_ZOOM_CREATION_INTERVAL": "PT0S",
        }
    )
    runtime: Runtime = await start_runtime(Settings())
    provider = runtime.providers.video["zoom"]
    assert isinstance(provider, ZoomProvider)
    try:
        fake.add_user("bench@zoom.example")
        user = await User(
            email="bench@example.com",
            email_key="bench@example.com",
            password_hash=NO_LOGIN,
            display_name="Bench",
            roles=[Role.SPECIALIST],
        ).insert()
        assert user.id is not None
        await connect(provider, user.id)
        token = await provider.connections.access_token(user.id)
        fake.latency = latency
        print(
            f"Zoom fake latency {latency * 1000:.0f} ms per request; {bookings} bookings,"
            f" concurrency {concurrency}; pacing off for the run (one specialist)"
        )

        async def bare() -> None:
            async with httpx.AsyncClient() as http:
                await http.post(
                    f"{fake.url}/v2/users/me/meetings",
                    json={"topic": "baseline", "type": 2, "duration": 30},
                    headers={"Authorization": f"Bearer {token}"},
                )

        report("baseline (bare create)", await timed([bare] * bookings, concurrency))
        stored = [await booking(user.id, n).insert() for n in range(bookings)]

        def step(b: Booking) -> Callable[[], Awaitable[None]]:
            return lambda: meetings.ensure_meeting(b, runtime)

        report("confirmed -> stored", await timed([step(b) for b in stored], concurrency))
        with_meeting = await Booking.find(
            {"specialist_id": user.id, "meeting": {"$ne": None}}
        ).count()
        assert with_meeting == bookings, with_meeting
        print(f"meetings at the fake: {fake.creations - bookings} for {bookings} bookings")
    finally:
        await provider.aclose()
        await runtime.mongo.drop_database(runtime.settings.database)
        await runtime.close()


def main(bookings: int, latency: float, concurrency: int) -> None:
    fake = ZoomFake(client_id="bench", client_secret=secrets.token_hex(16))
    with contextlib.contextmanager(run)(fake):
        asyncio.run(bench(fake, bookings, latency, concurrency))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bookings", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    main(args.bookings, args.latency, args.concurrency)
