"""What the benchmarks share: settings with the request limits lifted, seeded calendars,
timing and the printed figures."""

from __future__ import annotations

import random
import secrets
import statistics
import time as clock
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from beanie import PydanticObjectId

from specialistly.core import busy, catalog, working_hours
from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.services import Service
from specialistly.core.users import Role, SpecialistProfile, User
from specialistly.core.working_hours import DayHours
from specialistly.settings import Settings

UNLIMITED = 10**9
NO_LOGIN = "-"  # seeded users never log in with a password


def bench_settings(**values: Any) -> Settings:
    """Test settings on a database of the run's own, request limits lifted (and said so)."""
    print("rate limits lifted for this run (requests per minute: unlimited)")
    return Settings(
        database=f"bench_{secrets.token_hex(4)}",
        environment="test",
        requests_per_minute_anonymous=UNLIMITED,
        requests_per_minute_user=UNLIMITED,
        **values,
    )


def bench_env(settings: Settings) -> dict[str, str]:
    """The same settings for a `specialistly serve` process."""
    return {
        "SPECIALISTLY_DATABASE": settings.database,
        "SPECIALISTLY_ENVIRONMENT": "production",
        "SPECIALISTLY_REQUESTS_PER_MINUTE_ANONYMOUS": str(UNLIMITED),
        "SPECIALISTLY_REQUESTS_PER_MINUTE_USER": str(UNLIMITED),
    }


async def make_user(*roles: Role, name: str = "Bench") -> User:
    email = f"bench-{secrets.token_hex(6)}@example.com"
    user = User(
        email=email, email_key=email, password_hash=NO_LOGIN, display_name=name, roles=list(roles)
    )
    return await user.insert()


async def make_specialist(
    days: Sequence[DayHours], *, tz: str = "UTC", **service: Any
) -> tuple[User, Service]:
    """A published specialist with these weekly hours and one published service."""
    user = await make_user(Role.SPECIALIST)
    assert user.id is not None
    await SpecialistProfile(
        user_id=user.id,
        slug=f"bench-{secrets.token_hex(6)}",
        display_name=f"Bench {user.id}",
        timezone=tz,
        currency="usd",
        published=True,
        expertise=["bench"],
    ).insert()
    await working_hours.set_weekly_hours(user, tz, list(days))
    fields: dict[str, Any] = {
        "title": "Bench",
        "durations": [30],
        "price": 1000,
        "currency": "usd",
        "minimum_notice": 0,
        "slot_interval": 30,
        **service,
    }
    made = await catalog.create_service(user, fields, video_providers=["jitsi"])  # type: ignore[arg-type]
    published = await catalog.publish_service(user, str(made.id))
    return user, published


async def add_bookings(
    service: Service,
    starts: Sequence[datetime],
    *,
    customer_id: PydanticObjectId | None = None,
    buffer_after: int = 0,
) -> None:
    """Confirmed bookings written straight to the database, then the specialist's busy time
    rebuilt from them (as its first read would)."""
    assert service.id is not None
    minutes = timedelta(minutes=service.durations[0])
    await Booking.insert_many(
        [
            Booking(
                customer_id=customer_id or PydanticObjectId(),
                specialist_id=service.specialist_id,
                service_id=service.id,
                start=start,
                end=start + minutes,
                claim_start=start,
                claim_end=start + minutes + timedelta(minutes=buffer_after),
                price=service.price,
                currency=service.currency,
                customer_timezone="UTC",
                idempotency_key=secrets.token_hex(8),
                status=BookingStatus.CONFIRMED,
                video_provider="jitsi",
            )
            for start in starts
        ]
    )
    await busy.rebuild(service.specialist_id)


def half_hours(first: date, days: int, opens: int, closes: int) -> list[datetime]:
    """Every half-hour start from `opens` to `closes` o'clock (UTC) on `days` days."""
    return [
        datetime.combine(first + timedelta(days=d), time(opens), tzinfo=UTC)
        + timedelta(minutes=30 * n)
        for d in range(days)
        for n in range(2 * (closes - opens))
    ]


def sample(starts: Sequence[datetime], count: int, seed: int = 7) -> list[datetime]:
    return random.Random(seed).sample(list(starts), count)


@dataclass(frozen=True)
class Figures:
    name: str
    latencies: list[float]  # seconds
    elapsed: float
    # CPU time this process used meanwhile (all its threads), in seconds: unlike latency it
    # hardly depends on what else the machine runs. In process, it is the server's and the
    # client's together.
    cpu: float = 0.0

    @property
    def cpu_ms(self) -> float:
        """CPU time per request, in milliseconds."""
        return self.cpu / len(self.latencies) * 1000 if self.latencies else 0.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 95)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    def line(self, *, cpu: bool = True) -> str:
        """The figures on one line; `cpu` adds this process's CPU time per request."""
        rate = len(self.latencies) / self.elapsed if self.elapsed else 0.0
        mean = statistics.fmean(self.latencies) * 1000
        used = f"  cpu {self.cpu_ms:6.2f} ms/req" if cpu else ""
        return (
            f"{self.name:<26} {rate:8.1f} req/s  mean {mean:7.2f}  p50 {self.p50:7.2f}"
            f"  p95 {self.p95:7.2f}  p99 {self.p99:7.2f} ms{used}"
        )


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of latencies in seconds, in milliseconds."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1] * 1000


async def measure(
    name: str, send: Callable[[], Awaitable[object]], requests: int, *, warmup: int = 10
) -> Figures:
    """Time `requests` calls of send, one after the other, after a warm-up."""
    for _ in range(warmup):
        await send()
    latencies = []
    started, used = clock.perf_counter(), clock.process_time()
    for _ in range(requests):
        before = clock.perf_counter()
        await send()
        latencies.append(clock.perf_counter() - before)
    return Figures(name, latencies, clock.perf_counter() - started, clock.process_time() - used)


def verdict(label: str, ok: bool) -> str:
    return f"{label}: {'met' if ok else 'NOT met'}"
