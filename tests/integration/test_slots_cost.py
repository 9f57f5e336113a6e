"""What a slots request does not do: make local times nobody asked for, or decode a
calendar that has not changed since it was last read."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.requests import Request
from strawberry import relay

from specialistly.api.context import Context
from specialistly.api.local_times import LocalDateTimeType
from specialistly.api.schema import build_schema
from specialistly.core import busy
from specialistly.core.slots import Interval
from specialistly.core.working_hours import DayHours
from specialistly.runtime import Runtime
from specialistly.settings import Settings
from tests.factories import book, hours, make_service, make_specialist, monday, utc

SLOTS = """
query Slots($id: ID!, $from: DateTime!, $to: DateTime!, $tz: String) {
  slots(serviceId: $id, from: $from, to: $to, timezone: $tz) { %s }
}
fragment Local on Slot { endLocal { time } }
"""


async def run(runtime: Runtime, settings: Settings, fields: str, variables: Any) -> Any:
    schema = build_schema(runtime.plugins, settings)
    connection = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 1)})
    context = Context(runtime=runtime, connection=connection, bearer=None)
    query = SLOTS % fields
    if "...Local" not in fields:
        query = query[: query.index("fragment")]
    result = await schema.execute(query, variables, context_value=context)
    assert result.errors is None and result.data is not None, result.errors
    return result.data["slots"]


async def a_calendar() -> dict[str, Any]:
    owner = await make_specialist()
    await hours(owner, "UTC", DayHours(0, [("09:00", "12:00")]))
    service = await make_service(owner, durations=[60], slot_interval=60)
    day = monday(1)
    await book(service, utc(day, 10))
    return {
        "id": str(relay.GlobalID("Service", str(service.id))),
        "from": utc(day, 0).isoformat(),
        "to": utc(day + timedelta(days=1), 0).isoformat(),
        "tz": "America/New_York",
    }


async def test_local_times_are_made_when_asked_for_however(
    runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = await a_calendar()
    made: list[datetime] = []
    of = LocalDateTimeType.of

    def counted(instant: datetime, zone: ZoneInfo) -> LocalDateTimeType:
        made.append(instant)
        return of(instant, zone)

    monkeypatch.setattr(LocalDateTimeType, "of", staticmethod(counted))

    plain = await run(runtime, settings, "start end", variables)
    assert [s["start"][11:16] for s in plain] == ["09:00", "11:00"]  # 10:00 is booked
    assert made == []  # nobody asked for them

    direct = await run(runtime, settings, "start startLocal { time }", variables)
    assert [s["startLocal"]["time"] for s in direct] == ["04:00", "06:00"]
    fragment = await run(runtime, settings, "start ...Local", variables)
    assert [s["endLocal"]["time"] for s in fragment] == ["05:00", "07:00"]
    inline = await run(runtime, settings, "... on Slot { startLocal { date } }", variables)
    assert [s["startLocal"]["date"] for s in inline] == [variables["from"][:10]] * 2
    assert len(made) == 3 * 2 * 2


async def test_an_unchanged_calendar_is_decoded_once(runtime: Runtime) -> None:
    owner = await make_specialist()
    await hours(owner, "UTC", DayHours(0, [("09:00", "17:00")]))
    service = await make_service(owner, durations=[60], slot_interval=60)
    day = monday(1)
    first = await book(service, utc(day, 10))
    span = Interval(utc(day, 0), utc(day + timedelta(days=1), 0))

    assert [e.booking_id for e in await busy.held(service.specialist_id, span)] == [first.id]
    decoded = busy._decoded.cache_info()
    again = await busy.held(service.specialist_id, span)
    assert [e.booking_id for e in again] == [first.id]
    assert busy._decoded.cache_info().misses == decoded.misses  # the same bytes: not again

    second = await book(service, utc(day, 14))  # a change is read, never a stale copy
    assert [e.booking_id for e in await busy.held(service.specialist_id, span)] == [
        first.id,
        second.id,
    ]
    outside = Interval(utc(day, 11), utc(day, 14))
    assert await busy.held(service.specialist_id, outside) == []
