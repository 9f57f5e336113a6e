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
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time as clock
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any

import httpx
from strawberry import relay

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
def serving(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """`specialistly serve` on a free port until the block ends; yields its base URL and
    process id."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "specialistly.processes.cli", "serve", "--port", str(port)],
            env={**os.environ, **env},
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


async def run(requests: int) -> tuple[dict[str, Figures], dict[str, float]]:
    secret = secrets.token_urlsafe(32)
    settings = bench_settings(jwt_secret=secret)
    runtime = await start_runtime(settings, create_plugin_manager(settings))
    figures: dict[str, Figures] = {}
    cpu: dict[str, float] = {}
    try:
        first = first_monday()
        service = await seed(first)
        start = datetime.combine(first, time(0), tzinfo=UTC)
        variables = {
            "id": str(relay.GlobalID("Service", str(service.id))),
            "from": start.isoformat(),
            "to": (start + timedelta(days=DAYS)).isoformat(),
        }
        body: dict[str, Any] = {"query": QUERY, "variables": variables}
        by_day: dict[str, Any] = {"query": BY_DAY, "variables": variables}
        env = {**bench_env(settings), "SPECIALISTLY_JWT_SECRET": secret}
        with serving(env) as (url, pid):
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                reply = await http.post("/graphql", json=body)
                found = reply.json()["data"]["slots"]
                assert len(found) == FREE_STARTS, f"{len(found)} free starts, not {FREE_STARTS}"

                for _ in range(20):  # warm up
                    await http.post("/graphql", json=body)

                days = (await http.post("/graphql", json=by_day)).json()["data"]["slotsByDay"]
                assert sum(len(d["starts"]) for d in days) == FREE_STARTS

                async def slots() -> None:
                    assert (await http.post("/graphql", json=body)).status_code == 200

                async def slots_by_day() -> None:
                    assert (await http.post("/graphql", json=by_day)).status_code == 200

                async def health() -> None:
                    assert (await http.get("/healthz")).status_code == 200

                for name, send in (
                    ("slots over HTTP", slots),
                    ("slotsByDay over HTTP", slots_by_day),
                    ("healthz (baseline)", health),
                ):
                    used = cpu_seconds(pid)
                    figures[name] = await measure(name, send, requests, warmup=0)
                    cpu[name] = (cpu_seconds(pid) - used) / requests * 1000
    finally:
        await runtime.mongo.drop_database(settings.database)
        await runtime.close()
    return figures, cpu


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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    report(asyncio.run(run(args.requests)), args.requests)


if __name__ == "__main__":
    main()
