"""Fixtures for tests that talk to the real services started by `scripts/services`.

One test session gets its own database and broker namespace, an API server and a worker
in subprocesses (started on first use), and a Runtime in the test's own event loop for
tests that call core services directly.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from specialistly.runtime import Runtime, start_runtime
from specialistly.settings import Settings
from tests.client import GraphQLClient

ROOT = Path(__file__).resolve().parent.parent


def _services_env() -> dict[str, str]:
    missing = [name for name in ("MONGODB_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: start the services with "
            '`eval "$(scripts/services up)"` or run `scripts/test`'
        )
    return {name: os.environ[name] for name in ("MONGODB_URL", "REDIS_URL")}


@pytest.fixture(scope="session")
def test_env() -> dict[str, str]:
    """The environment of this session's API and worker processes."""
    name = f"test_{secrets.token_hex(5)}"
    return {
        **_services_env(),
        "SPECIALISTLY_ENVIRONMENT": "test",
        "SPECIALISTLY_DATABASE": name,
        "SPECIALISTLY_BROKER_NAMESPACE": name,
        "SPECIALISTLY_JWT_SECRET": secrets.token_urlsafe(32),
        "SPECIALISTLY_SWEEP_INTERVAL": "PT1S",
        "SPECIALISTLY_EVENT_RETRY_DELAY": "PT2S",
        "SPECIALISTLY_PLUGINS_EXTRA": '["tests.plugins.example"]',
        # The tests pose as many client addresses (tests/client.py) through this proxy.
        "SPECIALISTLY_FORWARDED_ALLOW_IPS": '["127.0.0.1"]',
    }


@pytest.fixture(scope="session")
def settings(test_env: dict[str, str]) -> Settings:
    """The settings the session's processes read from `test_env`."""
    saved = dict(os.environ)
    os.environ.update(test_env)
    try:
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await start_runtime(settings)
    try:
        yield rt
    finally:
        await rt.mongo.drop_database(settings.database)
        await rt.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """A platform process (API server or worker) started for the tests."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.args = args
        self.env = {**os.environ, **env}
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "specialistly.processes.cli", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def api_url(test_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real API server (uvicorn) for this session."""
    port = _free_port()
    server = Process(
        "api", ["serve", "--port", str(port)], test_env, tmp_path_factory.mktemp("logs")
    )
    server.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert server.proc is not None
        if server.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the API server did not start:\n{server.tail()}")
        time.sleep(0.1)
    yield url
    server.stop()


@pytest.fixture(scope="session")
def worker_process(
    test_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Process]:
    """A real worker process for this session; tests may stop and start it again."""
    worker = Process("worker", ["worker", "--threads", "2"], test_env, tmp_path_factory.mktemp("w"))
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def worker(worker_process: Process) -> Process:
    """The session's worker, started again if an earlier test stopped it."""
    if worker_process.proc is None or worker_process.proc.poll() is not None:
        worker_process.start()
    return worker_process


@pytest.fixture
def client(api_url: str) -> GraphQLClient:
    """An anonymous GraphQL client with an address of its own (for per-IP limits)."""
    return GraphQLClient(api_url)
