"""The scale series: reads whose cost must follow one user's data, not the whole database.

A database of each size (1, 10 and 50 specialists by default), each specialist with 500
confirmed bookings in the next 30 days (each specialist's bookings made by one customer of
their own). The same reads are timed through the whole app (in process, over the ASGI
transport) for the first specialist and its customer: `slots` (30 days), `myBookings` and
`specialistBookings` (a page of 20 with `totalCount`, and the same page without it, which
spares the count) and the marketplace's `specialists`: a search only the first specialist
matches (its own expertise tag), and the unfiltered first page of 20. Beside them, one
round of the worker's booking sweeps (in process), with nothing to do: every booking is
to come.
The sizes are timed in turns (`--rounds`, each a share of the requests, in a rotating
order), not one after the other: this machine's speed drifts by a quarter over minutes,
which would otherwise read as growth. The baseline is the first size, measured in the same
turns; the target is that no p50 grows more than 1.3x by the last. The unfiltered page is
shown apart: its answer itself grows (1, 10, then 20 specialists, out of every published
one), and FerretDB v1 pushes down the equality on `published` but neither the sort nor the
limit (its `explain` says `sortPushdown: false`, `limitPushdown: false`), so it reads every
match.
With the services up (`scripts/services up`):

    python -m bench.bench_scale [--sizes 1,10,50] [--bookings 500] [--requests 60] [--rounds 5]

It works in databases of its own (bench_<random>_<size>) and drops them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
from strawberry import relay

from bench.common import (
    Figures,
    add_bookings,
    bench_settings,
    half_hours,
    make_specialist,
    make_user,
    measure,
    sample,
    verdict,
)
from specialistly.core import sweeps
from specialistly.core.clock import utcnow
from specialistly.core.users import Role, SpecialistProfile
from specialistly.core.working_hours import DayHours
from specialistly.infra import db
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.processes.app import create_app
from specialistly.runtime import Runtime, start_runtime

DAYS = 30
TARGET_GROWTH = 1.3
ROUNDS = 5
SLOTS = """
query Slots($id: ID!, $from: DateTime!, $to: DateTime!) {
  slots(serviceId: $id, from: $from, to: $to) { start end }
}
"""
MINE = "{ myBookings(first: 20) { totalCount nodes { id start status } } }"
THEIRS = "{ specialistBookings(first: 20) { totalCount nodes { id start status } } }"
THEIRS_PAGE = "{ specialistBookings(first: 20) { nodes { id start status } } }"
OWN_TAG = "bench-first"
MARKET = "{ specialists(first: 20) { totalCount nodes { slug displayName priceMin } } }"
SEARCH = (
    f'{{ specialists(first: 20, expertise: "{OWN_TAG}")'
    " { totalCount nodes { slug displayName priceMin } } }"
)
# Its answer grows with the database by design: reported, not held to the target.
GROWS_WITH_ANSWER = "specialists (all)"
SWEEPS = "sweeps (idle round)"


class Calendar:
    """One database of the series: its specialists, their services, customers and bookings."""

    def __init__(self, database: str, bookings: int) -> None:
        self.database = database
        self.bookings = bookings
        self.first_day = datetime.combine(
            datetime.now(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC
        )
        self.measured: dict[str, Any] = {}

    async def fill(self, specialists: int, runtime: Runtime) -> None:
        every_day = [DayHours(d, [("08:00", "20:00")]) for d in range(7)]
        free = half_hours(self.first_day.date(), DAYS, 8, 20)
        for n in range(specialists):
            owner, service = await make_specialist(every_day, slot_interval=30)
            customer = await make_user(Role.CUSTOMER)
            taken = sample(free, self.bookings, seed=n)
            await add_bookings(service, taken, customer_id=customer.id)
            if not self.measured:
                await SpecialistProfile.get_pymongo_collection().update_one(
                    {"user_id": owner.id}, {"$set": {"expertise": ["bench", OWN_TAG]}}
                )
                self.measured = {
                    "service": str(relay.GlobalID("Service", str(service.id))),
                    "specialist": (await runtime.tokens.start_session(owner)).access_token,
                    "customer": (await runtime.tokens.start_session(customer)).access_token,
                }


async def use(runtime: Runtime, database: str, *, new: bool = False) -> None:
    """Bind the documents (the whole app reads through them) to `database`."""
    models = await db.bind(runtime.mongo[database], runtime.plugins)
    if new:
        await db.ensure_indexes(models)


async def run(
    sizes: list[int], bookings: int, requests: int, rounds: int = ROUNDS
) -> dict[int, dict[str, Figures]]:
    settings = bench_settings()
    plugins = create_plugin_manager(settings)
    app = create_app(settings, plugins)
    runtime = await start_runtime(settings, plugins)
    app.state.runtime = runtime  # the ASGI transport runs no lifespan
    calendars = {size: Calendar(f"{settings.database}_{size}", bookings) for size in sizes}
    rounds = max(1, min(rounds, requests))
    timed: dict[int, dict[str, list[Figures]]] = {size: {} for size in sizes}
    try:
        for size, calendar in calendars.items():
            await use(runtime, calendar.database, new=True)
            await calendar.fill(size, runtime)
            print(f"seeded {size} specialists x {bookings} bookings", flush=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for turn in range(rounds):
                share = requests // rounds + (turn < requests % rounds)
                for size in sizes[turn % len(sizes) :] + sizes[: turn % len(sizes)]:
                    await use(runtime, calendars[size].database)
                    for name, figures in (await measure_all(http, calendars[size], share)).items():
                        timed[size].setdefault(name, []).append(figures)
    finally:
        for calendar in calendars.values():
            await runtime.mongo.drop_database(calendar.database)
        await runtime.mongo.drop_database(settings.database)
        await runtime.close()
    return {size: {name: joined(parts) for name, parts in timed[size].items()} for size in sizes}


def joined(parts: list[Figures]) -> Figures:
    """The figures of several turns as one measurement."""
    return Figures(
        parts[0].name,
        [latency for part in parts for latency in part.latencies],
        sum(part.elapsed for part in parts),
        sum(part.cpu for part in parts),
    )


async def measure_all(
    http: httpx.AsyncClient, calendar: Calendar, requests: int
) -> dict[str, Figures]:
    start = calendar.first_day
    slots_variables = {
        "id": calendar.measured["service"],
        "from": start.isoformat(),
        "to": (start + timedelta(days=DAYS)).isoformat(),
    }
    reads: list[tuple[str, str, dict[str, Any], str | None]] = [
        ("slots", SLOTS, slots_variables, None),
        ("myBookings", MINE, {}, calendar.measured["customer"]),
        ("specialistBookings", THEIRS, {}, calendar.measured["specialist"]),
        ("  without totalCount", THEIRS_PAGE, {}, calendar.measured["specialist"]),
        ("specialists (search)", SEARCH, {}, None),
        (GROWS_WITH_ANSWER, MARKET, {}, None),
    ]
    figures = {}
    for name, query, variables, token in reads:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"query": query, "variables": variables}

        async def send(body: dict[str, Any] = body, headers: dict[str, str] = headers) -> None:
            reply = await http.post("/graphql", json=body, headers=headers)
            assert reply.status_code == 200 and "errors" not in reply.json(), reply.text

        figures[name] = await measure(name, send, requests, warmup=2)
    figures[SWEEPS] = await measure(SWEEPS, sweep_bookings, requests, warmup=2)
    return figures


async def sweep_bookings() -> None:
    """One round of the worker's booking sweeps, in process: the seeded bookings are all to
    come, so none has anything to do, however many there are."""
    await sweeps.sweep_bookings(utcnow())


def report(
    series: dict[int, dict[str, Figures]], bookings: int, requests: int, rounds: int = ROUNDS
) -> None:
    sizes = list(series)
    print(
        f"\np50 in ms by specialists x {bookings} bookings in the database; {requests}"
        f" sequential requests each, the sizes in {max(1, min(rounds, requests))} turns"
        " (shared machine: figures are noisy)"
    )
    print(f"{'read':<20}" + "".join(f"{n:>10}" for n in sizes) + f"{'growth':>10}")
    for name in series[sizes[0]]:
        p50s = [series[n][name].p50 for n in sizes]
        growth = p50s[-1] / p50s[0]
        row = "".join(f"{p:10.2f}" for p in p50s)
        judged = (
            "grows with its answer"
            if name == GROWS_WITH_ANSWER
            else verdict("growth", growth <= TARGET_GROWTH)
        )
        print(f"{name:<20}{row}{growth:9.2f}x  {judged}")
    print("\nCPU time per request in ms (this process: server and client; steadier than latency)")
    for name in series[sizes[0]]:
        cpus = [series[n][name].cpu_ms for n in sizes]
        row = "".join(f"{c:10.2f}" for c in cpus)
        print(f"{name:<20}{row}{cpus[-1] / cpus[0]:9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--bookings", type=int, default=500)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="turns taken by the sizes")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    series = asyncio.run(run(sizes, args.bookings, args.requests, args.rounds))
    report(series, args.bookings, args.requests, args.rounds)


if __name__ == "__main__":
    main()
