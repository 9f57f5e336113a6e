"""slotsByDay: the same starts as `slots`, grouped by the customer's local day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from strawberry import relay

from specialistly.api.context import Context
from specialistly.api.schema import build_schema
from specialistly.core.working_hours import DayHours
from specialistly.runtime import Runtime
from specialistly.settings import Settings
from tests.factories import book, hours, make_service, make_specialist, monday, utc

QUERY = """
query Both($id: ID!, $from: DateTime!, $to: DateTime!, $tz: String!) {
  slots(serviceId: $id, from: $from, to: $to, timezone: $tz) { startLocal { dateTime } }
  slotsByDay(serviceId: $id, from: $from, to: $to, timezone: $tz) { date starts times }
}
"""


async def run(runtime: Runtime, settings: Settings, variables: dict[str, Any]) -> Any:
    schema = build_schema(runtime.plugins, settings)
    connection = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 1)})
    context = Context(runtime=runtime, connection=connection, bearer=None)
    result = await schema.execute(QUERY, variables, context_value=context)
    assert result.errors is None, result.errors
    return result.data


async def test_days_are_the_customers_local_days(runtime: Runtime, settings: Settings) -> None:
    owner = await make_specialist()
    # Open 20:00-24:00 UTC on Monday and 00:00-02:00 on Tuesday: one evening in New York.
    await hours(owner, "UTC", DayHours(0, [("20:00", "24:00")]), DayHours(1, [("00:00", "02:00")]))
    service = await make_service(owner, durations=[60], slot_interval=60)
    day = monday(1)
    await book(service, utc(day, 21))
    variables = {
        "id": str(relay.GlobalID("Service", str(service.id))),
        "from": utc(day, 0).isoformat(),
        "to": utc(day + timedelta(days=2), 0).isoformat(),
        "tz": "America/New_York",
    }
    data = await run(runtime, settings, variables)

    flat = [s["startLocal"]["dateTime"] for s in data["slots"]]
    assert [s for d in data["slotsByDay"] for s in d["starts"]] == flat
    assert len(flat) == 5  # 20, 22, 23, 00 and 01 o'clock UTC: 21:00 is booked
    (evening,) = data["slotsByDay"]  # all on one local day in New York
    assert evening["date"] == (day).isoformat()
    offset = evening["starts"][0][-6:]
    assert offset in ("-05:00", "-04:00")
    assert evening["times"] == [s[11:16] for s in evening["starts"]]

    london = await run(runtime, settings, {**variables, "tz": "Europe/London"})
    assert [d["date"] for d in london["slotsByDay"]] == [
        day.isoformat(),
        (day + timedelta(days=1)).isoformat(),
    ]
