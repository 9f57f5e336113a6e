"""Each benchmark runs end to end on a tiny shape, so that a renamed function or a changed
query breaks the build rather than the next measurement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bench import bench_peer, bench_scale, bench_slots
from bench.builds import git
from specialistly.infra import db
from specialistly.runtime import Runtime
from specialistly.settings import Settings


@pytest_asyncio.fixture(loop_scope="session", autouse=True)
async def rebind(runtime: Runtime, settings: Settings) -> AsyncIterator[None]:
    """A benchmark binds the documents to a database of its own: bind them back."""
    yield
    await db.bind(runtime.mongo[settings.database], runtime.plugins)


async def test_bench_slots(capsys: pytest.CaptureFixture[str]) -> None:
    figures = await bench_slots.run(requests=2, bookings=20)
    bench_slots.report(figures, requests=2, bookings=20)
    out = capsys.readouterr().out
    assert "rate limits lifted" in out
    assert "slots: graphql/baseline p50" in out and "slotsByDay: graphql/baseline p50" in out


async def test_bench_peer(capsys: pytest.CaptureFixture[str]) -> None:
    measured = await bench_peer.run(requests=2)
    bench_peer.report(measured, requests=2)
    out = capsys.readouterr().out
    assert "rate limits lifted" in out
    assert "141 free starts" in out and "the peer's p50" in out and "healthz" in out


async def test_bench_peer_against_another_build(capsys: pytest.CaptureFixture[str]) -> None:
    compared = await bench_peer.compare("HEAD", rounds=2, batch=3)
    bench_peer.report_comparison(compared)
    out = capsys.readouterr().out
    head = await asyncio.to_thread(git, "rev-parse", "--short", "HEAD")
    assert compared.commit == head and f"this build and {head} serving one database" in out
    shape = ["slots over HTTP", "slotsByDay over HTTP", "healthz (baseline)"]
    assert list(compared.cpu_ms) == shape and all(name in out for name in shape)
    assert "specialistly-build-" not in await asyncio.to_thread(git, "worktree", "list")


async def test_bench_scale(capsys: pytest.CaptureFixture[str]) -> None:
    series = await bench_scale.run([1, 2], bookings=5, requests=2)
    bench_scale.report(series, bookings=5, requests=2)
    out = capsys.readouterr().out
    assert "rate limits lifted" in out and "the sizes in 2 turns" in out
    assert [len(figures.latencies) for figures in series[2].values()] == [2] * 7
    assert "sweeps (idle round)" in out
    assert all(
        name in out for name in ("slots", "myBookings", "specialistBookings", "without totalCount")
    )
