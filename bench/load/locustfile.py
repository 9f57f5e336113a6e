"""What one load-run customer does, for locust (started by bench/load/run.py).

Each virtual user logs in as a customer of the seeded plan, then visits again and again:
marketplace search, a specialist's page, a two-week calendar of one service's free slots
(grouped by day, as a booking page shows them), a booking of one of those slots, its own
bookings and, now and then, a cancellation; every few visits it logs in again. Every
request is one measured operation named after what it does.

A request fails (and counts as an error) when it is not HTTP 200, when the response has
top-level GraphQL errors ("Unexpected error." among them) or when a mutation answers a
code it should not. SLOT_TAKEN is no error: it is the honest answer when another customer
booked the same slot first, and is counted apart as an outcome.
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.stats import StatsEntry

from bench.load import operations

# The operations in the order the report lists them.
OPERATIONS = (
    "search",
    "specialistPage",
    "calendar",
    "login",
    "createBooking",
    "myBookings",
    "cancelBooking",
)
EXPECTED = {"createBooking": {"SLOT_TAKEN"}}
PERCENTILES = (0.5, 0.95, 0.99)

outcomes: Counter[str] = Counter()
_accounts = itertools.count()


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument("--plan-file", help="the seeded plan (written by run.py)")
    parser.add_argument("--summary-file", help="where to write the JSON summary")
    parser.add_argument("--cancel-share", type=float, default=0.3)
    parser.add_argument("--relogin-every", type=int, default=20)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between clicks")


class Customer(FastHttpUser):
    def wait_time(self) -> float:
        """A person reading the page before the next click: `--think` seconds, give or take
        a half."""
        think: float = self.environment.parsed_options.think
        return random.uniform(0.5 * think, 1.5 * think)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        plan = json.loads(Path(options.plan_file).read_text())
        customers: list[str] = plan["customers"]
        self.email = customers[next(_accounts) % len(customers)]
        self.password: str = plan["password"]
        self.expertise: list[str] = plan["expertise"]
        self.cancel_share: float = options.cancel_share
        self.relogin_every: int = options.relogin_every
        self.token: str | None = None
        # Customers who did not all start together: each one's first login again comes
        # after a random share of the interval. Otherwise users who arrived within the
        # run's first seconds all log in again within the same minute (two logins a second,
        # 130 ms of CPU each), and a measured window holds either none of them or that wave.
        self.visits = random.randrange(self.relogin_every)
        self.login()

    @task
    def visit(self) -> None:
        """One customer journey; think time between its steps."""
        self.visits += 1
        if self.visits % self.relogin_every == 0:
            self.login()
            self.think()
        slug = self.search()
        if slug is None:
            return
        self.think()
        offer = self.page(slug)
        if offer is None:
            return
        self.think()
        service_id, duration = offer
        starts = self.calendar(service_id)
        if not starts:
            return
        self.think()
        booking = self.book(service_id, random.choice(starts), duration)
        self.think()
        self.my_bookings()
        if booking is not None and random.random() < self.cancel_share:
            self.think()
            self.cancel(booking)

    def think(self) -> None:
        """The pause of a person reading the page before the next click."""
        self.wait()  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------- the operations

    def login(self) -> None:
        credentials = {"email": self.email, "password": self.password}
        data = self.call("login", operations.LOGIN, credentials)
        if data is not None and data["login"]["tokens"]:
            self.token = data["login"]["tokens"]["accessToken"]

    def search(self) -> str | None:
        data = self.call("search", operations.SEARCH, {"expertise": random.choice(self.expertise)})
        nodes = data["specialists"]["nodes"] if data else []
        return str(random.choice(nodes)["slug"]) if nodes else None

    def page(self, slug: str) -> tuple[str, int] | None:
        data = self.call("specialistPage", operations.SPECIALIST_PAGE, {"slug": slug})
        offers = (data or {}).get("specialist") or {}
        if not offers.get("offers"):
            return None
        service = random.choice(offers["offers"])["service"]
        return str(service["id"]), int(service["durationMinutesOptions"][0])

    def calendar(self, service_id: str) -> list[str]:
        first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
        variables = {
            "id": service_id,
            "from": first.isoformat(),
            "to": (first + timedelta(days=14)).isoformat(),
        }
        data = self.call("calendar", operations.CALENDAR, variables)
        return [start for day in (data or {}).get("slotsByDay", []) for start in day["starts"]]

    def book(self, service_id: str, start: str, duration: int) -> str | None:
        request = {
            "serviceId": service_id,
            "start": start,
            "durationMinutes": duration,
            "customerTimezone": "Europe/Berlin",
            "idempotencyKey": secrets.token_hex(12),
        }
        data = self.call("createBooking", operations.CREATE_BOOKING, {"input": request})
        booking = (data or {}).get("createBooking", {}).get("booking")
        return str(booking["id"]) if booking else None

    def my_bookings(self) -> None:
        self.call("myBookings", operations.MY_BOOKINGS, {"from": datetime.now(UTC).isoformat()})

    def cancel(self, booking_id: str) -> None:
        self.call("cancelBooking", operations.CANCEL_BOOKING, {"id": booking_id})

    # ------------------------------------------------------------------- checking answers

    def call(self, name: str, query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        """Send one operation; its data, or None when it failed (and was counted so)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"query": query, "variables": variables}
        with self.client.post(
            "/graphql", json=body, headers=headers, name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return None
            reply = response.json()
            if reply.get("errors"):
                response.failure(f"GraphQL error: {reply['errors'][0].get('message')}")
                return None
            data: dict[str, Any] = reply["data"]
            payload = data.get(name)  # a mutation's payload has the same name as its field
            problems = payload.get("errors", []) if isinstance(payload, dict) else []
            codes = [e["code"] for e in problems]
            unexpected = [c for c in codes if c not in EXPECTED.get(name, set())]
            if unexpected:
                response.failure(f"{name} answered {', '.join(unexpected)}")
                return None
            for code in codes:
                outcomes[f"{name} {code}"] += 1
            return data


# ----------------------------------------------------------------------- the summary


@events.quitting.add_listener
def _write_summary(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is None or not options.summary_file or environment.stats is None:
        return
    stats = environment.stats
    total = stats.total
    last = total.last_request_timestamp
    seconds = last - total.start_time if total.num_requests and last else 0.0
    # An exception in a user's own code (here) is a broken load run: counted as a failure.
    crashes = list(environment.runner.exceptions.values()) if environment.runner else []
    summary = {
        "seconds": seconds,
        "requests": total.num_requests,
        "failures": total.num_failures + sum(c["count"] for c in crashes),
        "operations": {
            name: _entry(stats.entries[(name, "POST")])
            for name in OPERATIONS
            if (name, "POST") in stats.entries
        },
        "errors": [
            {"operation": e.name, "error": str(e.error), "count": e.occurrences}
            for e in stats.errors.values()
        ]
        + [
            {
                "operation": "(load run)",
                "error": f"{c['msg']}\n{c['traceback']}",
                "count": c["count"],
            }
            for c in crashes
        ],
        "outcomes": dict(outcomes),
    }
    Path(options.summary_file).write_text(json.dumps(summary, indent=2))


def _entry(entry: StatsEntry) -> dict[str, Any]:
    return {
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        **{
            f"p{round(p * 100)}": entry.get_response_time_percentile(p) if entry.num_requests else 0
            for p in PERCENTILES
        },
        "mean": entry.avg_response_time,
        "max": entry.max_response_time,
    }
