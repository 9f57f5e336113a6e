"""The peer comparison: a public availability request over HTTP against `specialistly serve`.

The shape measured against Thunderbird Appointment in issue 8 (its median there: 64.9 ms,
p99 348 ms): weekdays 09:00-17:00, 30-minute slots, a 14-day window, 3 bookings, so 141
free starts. The server runs in production mode on a free port with the request limits
lifted; one client sends the requests one after the other over a kept-alive connection.
The baseline, measured in the same run, is `/healthz` on the same server: what HTTP alone
costs there. The server's CPU time per request is printed too: unlike latency, it hardly
depends on what else the machine is running. Targets: p50 <= 6.5 ms (ten times the
peer), p99 < 15 ms. With the services up (`scripts/services up`):

    python -m bench.bench_peer [--requests 1000]

`--against REF` compares this build with the one at a git commit instead: both servers
serve one database and the requests alternate between them in batches, so that the
machine's drift falls on both alike; it prints each server's CPU time per request.

    python -m bench.bench_peer --against HEAD~3 [--rounds 10 --batch 50]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time as clock
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
from strawberry import relay

from bench.builds import other_build
from bench.common import (
    Figures,
    add_bookings,
    bench_env,
    bench_settings,
    make_specialist,
    measure,
    verdict,
)
from specialistly.core import working_hours
from specialistly.core.services import Service
from specialistly.core.working_hours import DayHours
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.runtime import start_runtime

DAYS = 14
FREE_STARTS = 141
PEER_P50_MS = 64.9
TARGET_P50_MS = 6.5
TARGET_P99_MS = 15.0
QUERY = """
query Availability($id: ID!, $from: DateTime!, $to: DateTime!) {
  slots(serviceId: $id, from: $from, to: $to, timezone: "UTC") { start end }
}
"""
BY_DAY = """
query AvailabilityByDay($id: ID!, $from: DateTime!, $to: DateTime!) {
  slotsByDay(serviceId: $id, from: $from, to: $to, timezone: "UTC") { date starts }
}
"""


def first_monday() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 - today.weekday())


async def seed(first: date) -> Service:
    """Weekdays 09:00-17:00 UTC, 30-minute slots, the first Monday off (9 working days in
    the window, 144 starts, as in the peer's run); 3 bookings in the first week."""
    weekdays = [DayHours(d, [("09:00", "17:00")]) for d in range(5)]
    owner, service = await make_specialist(weekdays, slot_interval=30, horizon_days=60)
    await working_hours.set_date_override(owner, first.isoformat(), [])
    starts = [datetime.combine(first + timedelta(days=d), time(10), tzinfo=UTC) for d in (1, 2, 3)]
    await add_bookings(service, starts)
    return service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], cwd: Path | None = None) -> Iterator[tuple[str, int]]:
    """`specialistly serve` on a free port until the block ends; yields its base URL and
    process id."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "specialistly.processes.cli", "serve", "--port", str(port)],
            env={**os.environ, **env},
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_ready(process, url, log)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> None:
    deadline = clock.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or clock.monotonic() > deadline:
            log.seek(0)
            raise RuntimeError(f"specialistly serve did not start:\n{log.read().decode()}")
        clock.sleep(0.1)


# What the benchmark asks, by name: method, path and JSON body.
Request = tuple[str, str, dict[str, Any] | None]


def shape(service: Service, first: date) -> dict[str, Request]:
    """The peer's request (as slots and as slotsByDay), and `/healthz` as the baseline."""
    start = datetime.combine(first, time(0), tzinfo=UTC)
    variables = {
        "id": str(relay.GlobalID("Service", str(service.id))),
        "from": start.isoformat(),
        "to": (start + timedelta(days=DAYS)).isoformat(),
    }
    return {
        "slots over HTTP": ("POST", "/graphql", {"query": QUERY, "variables": variables}),
        "slotsByDay over HTTP": ("POST", "/graphql", {"query": BY_DAY, "variables": variables}),
        "healthz (baseline)": ("GET", "/healthz", None),
    }


async def send(http: httpx.AsyncClient, url: str, request: Request) -> httpx.Response:
    method, path, body = request
    reply = await http.request(method, url + path, json=body)
    assert reply.status_code == 200, reply.text
    return reply


@asynccontextmanager
async def seeded() -> AsyncIterator[tuple[dict[str, Request], dict[str, str]]]:
    """The peer's schedule in a database of its own (dropped afterwards); yields the
    requests and the environment a server needs to serve it."""
    secret = secrets.token_urlsafe(32)
    settings = bench_settings(jwt_secret=secret)
    runtime = await start_runtime(settings, create_plugin_manager(settings))
    try:
        first = first_monday()
        requests = shape(await seed(first), first)
        yield requests, {**bench_env(settings), "SPECIALISTLY_JWT_SECRET": secret}
    finally:
        await runtime.mongo.drop_database(settings.database)
        await runtime.close()


async def run(requests: int) -> tuple[dict[str, Figures], dict[str, float]]:
    figures: dict[str, Figures] = {}
    cpu: dict[str, float] = {}
    async with seeded() as (asked, env):
        with serving(env) as (url, pid):
            async with httpx.AsyncClient(timeout=30) as http:
                slots, by_day = asked["slots over HTTP"], asked["slotsByDay over HTTP"]
                found = (await send(http, url, slots)).json()["data"]["slots"]
                assert len(found) == FREE_STARTS, f"{len(found)} free starts, not {FREE_STARTS}"
                days = (await send(http, url, by_day)).json()["data"]["slotsByDay"]
                assert sum(len(d["starts"]) for d in days) == FREE_STARTS

                for _ in range(20):  # warm up
                    await send(http, url, slots)
                for name, request in asked.items():
                    used = cpu_seconds(pid)
                    figures[name] = await measure(
                        name, functools.partial(send, http, url, request), requests, warmup=0
                    )
                    cpu[name] = (cpu_seconds(pid) - used) / requests * 1000
    return figures, cpu


@dataclass(frozen=True)
class Comparison:
    commit: str  # the other build's
    rounds: int
    batch: int
    cpu_ms: dict[str, tuple[float, float]]  # per request: (this build, the other)


async def compare(ref: str, *, rounds: int = 10, batch: int = 50) -> Comparison:
    """Server CPU per request of each request of the shape, on this build and on the one
    at `ref`: both serve one database, and the requests alternate between them in batches
    of `batch`, `rounds` times, the one to go first alternating too."""
    used: dict[str, list[float]] = {}
    async with seeded() as (asked, env):
        with (
            other_build(ref) as other,
            serving(env) as here,
            serving({**env, **other.env}, cwd=other.tree) as there,
        ):
            servers = (here, there)
            async with httpx.AsyncClient(timeout=30) as http:
                for name, request in asked.items():
                    for url, _ in servers:  # warm up
                        for _ in range(20):
                            await send(http, url, request)
                    used[name] = [0.0, 0.0]
                    for turn in range(rounds):
                        for side in (0, 1) if turn % 2 == 0 else (1, 0):
                            url, pid = servers[side]
                            before = cpu_seconds(pid)
                            for _ in range(batch):
                                await send(http, url, request)
                            used[name][side] += cpu_seconds(pid) - before
    per_ms = 1000 / (rounds * batch)
    return Comparison(
        other.commit, rounds, batch, {k: (v[0] * per_ms, v[1] * per_ms) for k, v in used.items()}
    )


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used so far (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(measured: tuple[dict[str, Figures], dict[str, float]], requests: int) -> None:
    figures, cpu = measured
    print(
        f"\nweekdays 09-17, 30-minute slots, {DAYS} days, 3 bookings ({FREE_STARTS} free"
        f" starts); {requests} sequential requests (shared machine: figures are noisy)"
    )
    for f in figures.values():
        print(f"{f.line(cpu=False)}  server CPU {cpu[f.name]:5.2f} ms/req")
    for name in ("slots over HTTP", "slotsByDay over HTTP"):
        slots = figures[name]
        p50 = verdict(f"p50 <= {TARGET_P50_MS} ms", slots.p50 <= TARGET_P50_MS)
        p99 = verdict(f"p99 < {TARGET_P99_MS:.0f} ms", slots.p99 < TARGET_P99_MS)
        faster = PEER_P50_MS / slots.p50
        print(f"{name}: {faster:.1f}x faster than the peer's p50 ({PEER_P50_MS} ms); {p50}, {p99}")


def report_comparison(compared: Comparison) -> None:
    print(
        f"\nweekdays 09-17, 30-minute slots, {DAYS} days, 3 bookings; this build and"
        f" {compared.commit} serving one database, requests alternating between them in"
        f" {compared.rounds} rounds of {compared.batch}"
    )
    for name, (here, there) in compared.cpu_ms.items():
        # CPU time comes in clock ticks (10 ms): a short run may count none.
        ratio = f"{here / there:.2f}x" if there else "too few requests to tell"
        print(
            f"{name:<26} server CPU {here:5.2f} ms/req here, {there:5.2f} at"
            f" {compared.commit}: {ratio}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--against", metavar="REF", help="compare with the build at a commit")
    parser.add_argument("--rounds", type=int, default=10, help="with --against")
    parser.add_argument("--batch", type=int, default=50, help="with --against")
    args = parser.parse_args()
    if args.against:
        report_comparison(asyncio.run(compare(args.against, rounds=args.rounds, batch=args.batch)))
    else:
        report(asyncio.run(run(args.requests)), args.requests)


if __name__ == "__main__":
    main()
