"""The slots query through GraphQL vs. a hand-written endpoint doing the same work.

One specialist open 08:00-20:00 every day, one 30-minute service on a 15-minute grid with
a 5-minute buffer, 500 confirmed bookings in 30 days; the window is those 30 days. The
baseline is a plain Starlette endpoint in the same app (same middleware) that makes the
same reads (the service, the hours, the busy time), the same computation
(`schedule.service_slots`) and answers the same JSON: the ratio is what the GraphQL layer
costs. Both `slots` (with local times) and `slotsByDay` are measured. With the services
up (`scripts/services up`):

    python -m bench.bench_slots [--requests 300]

It works in a database of its own (bench_<random>) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from beanie import PydanticObjectId
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry import relay

from bench.common import (
    Figures,
    add_bookings,
    bench_settings,
    half_hours,
    make_specialist,
    measure,
    sample,
    verdict,
)
from specialistly.api.loaders import Loaders
from specialistly.api.slots import by_day
from specialistly.core import catalog, schedule
from specialistly.core.services import Service
from specialistly.core.working_hours import DayHours
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.processes.app import create_app
from specialistly.runtime import start_runtime

BOOKINGS = 500
DAYS = 30
ZONE = "America/New_York"
SLOTS = """
query Slots($id: ID!, $from: DateTime!, $to: DateTime!, $tz: String!) {
  slots(serviceId: $id, from: $from, to: $to, timezone: $tz) {
    start end
    startLocal { dateTime date time timezone }
    endLocal { dateTime date time timezone }
  }
}
"""
BY_DAY = """
query SlotsByDay($id: ID!, $from: DateTime!, $to: DateTime!, $tz: String!) {
  slotsByDay(serviceId: $id, from: $from, to: $to, timezone: $tz) { date starts times }
}
"""
TARGET_P50_MS = 20.0
TARGET_RATIO = 2.0


async def seed(first_day: datetime, bookings: int) -> Service:
    every_day = [DayHours(d, [("08:00", "20:00")]) for d in range(7)]
    _, service = await make_specialist(every_day, slot_interval=15, buffer_after=5)
    taken = sample(half_hours(first_day.date(), DAYS, 8, 20), bookings)
    await add_bookings(service, taken, buffer_after=5)
    return service


def local(instant: datetime, zone: ZoneInfo) -> dict[str, str]:
    shown = instant.astimezone(zone)
    return {
        "dateTime": shown.isoformat(),
        "date": shown.date().isoformat(),
        "time": shown.strftime("%H:%M"),
        "timezone": zone.key,
    }


def slots_json(found: list[schedule.Slot], zone: ZoneInfo) -> dict[str, Any]:
    return {
        "slots": [
            {
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "startLocal": local(s.start, zone),
                "endLocal": local(s.end, zone),
            }
            for s in found
        ]
    }


def by_day_json(found: list[schedule.Slot], zone: ZoneInfo) -> dict[str, Any]:
    return {
        "slotsByDay": [
            {"date": d.date, "starts": [s.isoformat() for s in d.starts], "times": d.times}
            for d in by_day(found, zone)
        ]
    }


def baseline(shape: Callable[[list[schedule.Slot], ZoneInfo], dict[str, Any]]) -> Route:
    """The hand-written endpoint: the resolver's reads and computation, then plain JSON."""

    async def endpoint(request: Request) -> Response:
        variables = (await request.json())["variables"]
        service_id = PydanticObjectId(relay.GlobalID.from_id(variables["id"]).node_id)
        zone = ZoneInfo(variables["tz"])
        wanted = schedule.window(
            datetime.fromisoformat(variables["from"]), datetime.fromisoformat(variables["to"])
        )
        service = await Loaders().service.load(service_id)
        assert service is not None and catalog.can_see(None, service)
        found = await schedule.service_slots(service, wanted)
        body = json.dumps({"data": shape(found, zone)}, separators=(",", ":"))
        return Response(body, media_type="application/json")

    return Route(f"/baseline/{shape.__name__}", endpoint, methods=["POST"])


async def run(requests: int, bookings: int = BOOKINGS) -> dict[str, Figures]:
    settings = bench_settings()
    plugins = create_plugin_manager(settings)
    app = create_app(settings, plugins)
    app.router.routes.extend([baseline(slots_json), baseline(by_day_json)])
    runtime = await start_runtime(settings, plugins)
    app.state.runtime = runtime  # the ASGI transport runs no lifespan
    figures: dict[str, Figures] = {}
    try:
        first_day = datetime.combine(
            datetime.now(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC
        )
        service = await seed(first_day, bookings)
        variables = {
            "id": str(relay.GlobalID("Service", str(service.id))),
            "from": first_day.isoformat(),
            "to": (first_day + timedelta(days=DAYS)).isoformat(),
            "tz": ZONE,
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for label, query, shape in (
                ("slots", SLOTS, "slots_json"),
                ("slotsByDay", BY_DAY, "by_day_json"),
            ):
                body = {"query": query, "variables": variables}
                graphql = await http.post("/graphql", json=body)
                hand = await http.post(f"/baseline/{shape}", json=body)
                assert graphql.json() == hand.json(), "the baseline must answer the same JSON"
                count = len(graphql.json()["data"][label])
                print(f"{label}: {count} items, {len(graphql.content) / 1024:.0f} KiB per reply")

                for name, path in (("graphql", "/graphql"), ("baseline", f"/baseline/{shape}")):

                    async def send(path: str = path, body: dict[str, Any] = body) -> None:
                        reply = await http.post(path, json=body)
                        assert reply.status_code == 200, reply.text

                    figures[f"{label} {name}"] = await measure(f"{label} {name}", send, requests)
    finally:
        await runtime.mongo.drop_database(settings.database)
        await runtime.close()
    return figures


def report(figures: dict[str, Figures], requests: int, bookings: int = BOOKINGS) -> None:
    print(
        f"\n{bookings} bookings, {DAYS} days, {requests} sequential requests each"
        " (shared machine: figures are noisy)"
    )
    for f in figures.values():
        print(f.line())
    print("cpu: this process's CPU time per request (server and client, all threads)")
    for label in ("slots", "slotsByDay"):
        graphql, hand = figures[f"{label} graphql"], figures[f"{label} baseline"]
        ratio = graphql.p50 / hand.p50
        print(
            f"{label}: graphql/baseline p50 {ratio:.2f}x,"
            f" cpu {graphql.cpu_ms / hand.cpu_ms:.2f}x;"
            f" {verdict(f'p50 <= {TARGET_P50_MS:.0f} ms', graphql.p50 <= TARGET_P50_MS)},"
            f" {verdict(f'ratio <= {TARGET_RATIO:.0f}x', ratio <= TARGET_RATIO)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--bookings", type=int, default=BOOKINGS)
    args = parser.parse_args()
    report(asyncio.run(run(args.requests, args.bookings)), args.requests, args.bookings)


if __name__ == "__main__":
    main()
