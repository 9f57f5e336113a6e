"""Fixtures for tests that talk to the real services started by `scripts/services`.

One test session gets its own database and broker namespace, an API server and a worker
in subprocesses (started on first use), and a Runtime in the test's own event loop for
tests that call core services directly.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from specialistly.plugin_system.manager import PluginManager, create_plugin_manager
from specialistly.runtime import Runtime, start_runtime
from specialistly.settings import Settings
from tests.client import GraphQLClient
from tests.faults import ResettingProxy
from tests.mail import MailSink, SmtpServer
from tests.processes import Process, free_port
from tests.stripe_events import STRIPE_CONNECT_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET


def _services_env() -> dict[str, str]:
    missing = [name for name in ("MONGODB_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: start the services with "
            '`eval "$(scripts/services up)"` or run `scripts/test`'
        )
    return {name: os.environ[name] for name in ("MONGODB_URL", "REDIS_URL")}


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    """The session's SMTP server: every email the platform sends in the tests lands here."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer) -> MailSink:
    return smtp_server.sink


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """`env` in os.environ inside the block (plugins read their settings from it)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def test_env(smtp_server: SmtpServer) -> dict[str, str]:
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
        # Paid bookings pay through stripe-mock, started by `scripts/services`.
        "SPECIALISTLY_STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111"),
        "SPECIALISTLY_STRIPE_SECRET_KEY": "sk_test_specialistly",
        "SPECIALISTLY_STRIPE_PUBLISHABLE_KEY": "pk_test_specialistly",
        "SPECIALISTLY_STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        "SPECIALISTLY_STRIPE_CONNECT_WEBHOOK_SECRET": STRIPE_CONNECT_WEBHOOK_SECRET,
        # Paid services go on sale without Connect onboarding here; the gate has its own tests.
        "SPECIALISTLY_STRIPE_REQUIRE_PAYOUTS": "false",
        "SPECIALISTLY_SMTP_HOST": "127.0.0.1",
        "SPECIALISTLY_SMTP_PORT": str(smtp_server.port),
    }


@pytest.fixture(scope="session")
def settings(test_env: dict[str, str]) -> Settings:
    """The settings the session's processes read from `test_env`."""
    with environment(test_env):
        return Settings()


@pytest.fixture(scope="session")
def plugins(test_env: dict[str, str], settings: Settings) -> PluginManager:
    """The plugins with the settings they read from `test_env`."""
    with environment(test_env):
        return create_plugin_manager(settings)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def runtime(settings: Settings, plugins: PluginManager) -> AsyncIterator[Runtime]:
    rt = await start_runtime(settings, plugins)
    try:
        yield rt
    finally:
        await rt.mongo.drop_database(settings.database)
        await rt.close()


@pytest.fixture(scope="session")
def api_url(test_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real API server (uvicorn) for this session."""
    port = free_port()
    server = Process(
        "api", ["serve", "--port", str(port)], test_env, tmp_path_factory.mktemp("logs")
    )
    server.start()
    url = f"http://127.0.0.1:{port}"
    server.wait_until_ready(f"{url}/readyz")
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


@pytest.fixture(scope="module")
def proxy() -> Iterator[ResettingProxy]:
    """A proxy in front of the database that resets the connections it is told to (for
    the tests of a database that is briefly unavailable), one per test module."""
    target = urlsplit(os.environ["MONGODB_URL"])
    with ResettingProxy(target.hostname or "127.0.0.1", target.port or 27017).running() as p:
        yield p
