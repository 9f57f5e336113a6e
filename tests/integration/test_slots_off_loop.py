"""Computing many slots is CPU work: it runs beside the event loop, not on it; a few are
computed on the loop, which costs less than handing them to a thread."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from specialistly.core import schedule
from specialistly.core.slots import Interval
from tests.factories import hours, make_service, make_specialist, monday, utc

pytestmark = pytest.mark.usefixtures("runtime")


@pytest.mark.parametrize(
    ("interval", "days", "on_loop"), [(30, 62, False), (5, 7, False), (30, 1, True), (15, 14, True)]
)
async def test_many_slots_are_computed_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, interval: int, days: int, on_loop: bool
) -> None:
    owner = await make_specialist()
    await hours(owner)
    service = await make_service(owner, slot_interval=interval)
    threads: list[threading.Thread] = []
    compute = schedule.slots_for

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return compute(*args, **kwargs)

    monkeypatch.setattr(schedule, "slots_for", recording)
    day = monday(1)
    found = await schedule.service_slots(
        service, Interval(utc(day, 0), utc(day, 0) + timedelta(days=days))
    )
    loop_thread = threading.current_thread()
    assert found and len(threads) == 1
    assert (threads[0] is loop_thread) is on_loop
