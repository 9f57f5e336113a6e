"""Computing slots is CPU work: it runs beside the event loop, never on it."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from specialistly.core import schedule
from specialistly.core.slots import Interval
from tests.factories import hours, make_service, make_specialist, monday, utc

pytestmark = pytest.mark.usefixtures("runtime")


async def test_slots_are_computed_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    owner = await make_specialist()
    await hours(owner)
    service = await make_service(owner)
    threads: list[threading.Thread] = []
    compute = schedule.slots_for

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return compute(*args, **kwargs)

    monkeypatch.setattr(schedule, "slots_for", recording)
    day = monday(1)
    found = await schedule.service_slots(
        service, Interval(utc(day, 0), utc(day, 0) + timedelta(days=1))
    )
    loop_thread = threading.current_thread()
    assert found and threads and all(t is not loop_thread for t in threads)
