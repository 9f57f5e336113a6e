"""The worker runs each plugin's clean-ups on their own: one failing holds back no other."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import cast

import pytest

from specialistly.hookspecs import Sweep, hookimpl
from specialistly.plugin_system.manager import PluginManager
from specialistly.processes import jobs
from specialistly.runtime import Runtime


class Failing:
    @hookimpl
    def sweeps(self) -> Sequence[Sweep]:
        async def fail(now: datetime) -> None:
            raise RuntimeError("storage away")

        return [fail]


class Recording:
    def __init__(self) -> None:
        self.ran: list[datetime] = []

    @hookimpl
    def sweeps(self) -> Sequence[Sweep]:
        async def first(now: datetime) -> None:
            self.ran.append(now)

        async def second(now: datetime) -> None:
            self.ran.append(now)

        return [first, second]


async def test_a_failing_clean_up_is_logged_and_the_others_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pm = PluginManager()
    recording = Recording()
    pm.register_module("recording", recording, "extra")
    pm.register_module("failing", Failing(), "extra")  # registered last: runs first
    runtime = cast(Runtime, SimpleNamespace(plugins=pm))
    with caplog.at_level(logging.ERROR, logger="specialistly.processes.jobs"):
        await jobs.sweep_plugins(runtime)
    assert len(recording.ran) == 2 and recording.ran[0] == recording.ran[1]
    assert "a clean-up of plugin 'failing' failed" in caplog.text
