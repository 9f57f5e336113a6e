"""The metrics' rules: who may read them, bounded labels, outcomes, the per-process files
and their sum over processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dramatiq
import httpx
import pytest
from dramatiq.brokers.stub import StubBroker
from graphql import GraphQLError
from pydantic import SecretStr, ValidationError
from starlette.applications import Starlette
from starlette.routing import Route

from specialistly.api.metrics import _outcome
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.infra.metrics import directory
from specialistly.infra.metrics.exposition import MetricsServer, metrics_endpoint, verdict
from specialistly.infra.metrics.jobs import JobMetrics
from specialistly.infra.metrics.registry import REGISTRY, Names, render
from specialistly.processes import cli
from specialistly.settings import Settings
from tests.metrics_text import parse, value

ROOT = Path(__file__).resolve().parent.parent.parent
TOKEN = "a-token-of-24-characters"


def settings(environment: str, token: str | None = None) -> Settings:
    return Settings(
        environment=environment,
        jwt_secret=SecretStr("j" * 40),
        metrics_token=SecretStr(token) if token else None,
    )


@pytest.mark.parametrize(
    ("environment", "token", "authorization", "status"),
    [
        ("production", None, None, 404),  # off unless configured
        ("production", None, f"Bearer {TOKEN}", 404),
        ("development", None, None, 200),  # loopback only
        ("test", None, None, 200),
        ("production", TOKEN, None, 401),
        ("production", TOKEN, "Bearer wrong", 401),
        ("production", TOKEN, TOKEN, 401),
        ("production", TOKEN, f"Bearer {TOKEN}x", 401),
        ("production", TOKEN, f"Bearer {TOKEN}", 200),
        ("development", TOKEN, None, 401),  # a token, once set, is needed everywhere
    ],
)
def test_who_may_read_the_metrics(
    environment: str, token: str | None, authorization: str | None, status: int
) -> None:
    assert verdict(settings(environment, token), authorization) == status


def test_a_short_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        settings("production", "short")


async def test_the_api_endpoint_is_off_in_production_without_a_token() -> None:
    app = Starlette(routes=[Route("/metrics", metrics_endpoint(settings("production")))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:
        response = await http.get("/metrics")
    assert response.status_code == 404
    assert "specialistly_" not in response.text


async def test_the_api_endpoint_serves_the_text_format_with_the_token() -> None:
    endpoint = metrics_endpoint(settings("production", TOKEN))
    app = Starlette(routes=[Route("/metrics", endpoint)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:
        refused = await http.get("/metrics")
        served = await http.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert served.status_code == 200
    assert "# TYPE specialistly_graphql_operation_duration_seconds histogram" in served.text


def test_the_worker_server_follows_the_same_rules() -> None:
    closed = MetricsServer(settings("production"), "127.0.0.1", 0)
    guarded = MetricsServer(settings("production", TOKEN), "127.0.0.1", 0)
    for server in (closed, guarded):
        server.start()
    try:
        off = httpx.get(f"http://127.0.0.1:{closed.port}/metrics")
        assert off.status_code == 404
        url = f"http://127.0.0.1:{guarded.port}/metrics"
        assert httpx.get(url).status_code == 401
        served = httpx.get(url, headers={"authorization": f"Bearer {TOKEN}"})
        assert served.status_code == 200
        assert "specialistly_job_duration_seconds" in served.text
    finally:
        for server in (closed, guarded):
            server.stop()


def test_names_are_capped_and_must_look_like_names() -> None:
    names = Names(limit=2)
    assert names("Slots") == "Slots"
    assert names("not a name") == "other"
    assert names("x" * 65) == "other"
    assert names("MyBookings") == "MyBookings"
    assert names("Third") == "other"  # the cap is reached: new names are not kept
    assert names("Slots") == "Slots"  # names already kept still are


def test_an_operation_outcome_prefers_unexpected_then_codes() -> None:
    domain = DomainError.of(ErrorCode.SLOT_TAKEN, "taken")
    wrapped_domain = GraphQLError("taken", original_error=domain)
    crash = GraphQLError("boom", original_error=RuntimeError("boom"))
    coded = GraphQLError("slow down", extensions={"code": ErrorCode.RATE_LIMITED.value})
    invented = GraphQLError("?", extensions={"code": "ANYTHING_A_PLUGIN_SAYS"})
    assert _outcome([], [], parsed=True) == "ok"
    assert _outcome([], [], parsed=False) == "invalid"
    assert _outcome([], ["EMAIL_TAKEN"], parsed=True) == "EMAIL_TAKEN"
    assert _outcome([wrapped_domain], [], parsed=True) == "SLOT_TAKEN"
    assert _outcome([coded], [], parsed=True) == "RATE_LIMITED"
    assert _outcome([invented], [], parsed=True) == "invalid"  # codes come from ErrorCode only
    assert _outcome([coded, crash], ["EMAIL_TAKEN"], parsed=True) == "unexpected"
    assert _outcome([RuntimeError("raised")], [], parsed=True) == "unexpected"


def test_jobs_are_timed_per_actor_and_failures_counted() -> None:
    broker = StubBroker()
    broker.add_middleware(JobMetrics())
    broker.emit_after("process_boot")

    @dramatiq.actor(broker=broker, actor_name="metrics_ok", max_retries=0)
    def succeeds() -> None:
        pass

    @dramatiq.actor(broker=broker, actor_name="metrics_fail", max_retries=0)
    def fails() -> None:
        raise RuntimeError("the job failed")

    def count(actor: str, outcome: str) -> float:
        labels = {"actor": actor, "outcome": outcome}
        return REGISTRY.get_sample_value("specialistly_job_duration_seconds_count", labels) or 0

    before = count("metrics_ok", "ok"), count("metrics_fail", "failed")
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    try:
        succeeds.send()
        succeeds.send()
        fails.send()
        broker.join(succeeds.queue_name, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
        broker.close()
    assert count("metrics_ok", "ok") == before[0] + 2
    assert count("metrics_fail", "failed") == before[1] + 1
    assert count("metrics_fail", "ok") == 0


def test_a_process_without_a_directory_makes_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(directory.ENV, raising=False)
    made = directory.prepare()
    try:
        assert os.environ[directory.ENV] == str(made)  # for its children
        assert made.is_dir() and not any(made.iterdir())
    finally:
        made.rmdir()


def test_a_given_directory_loses_the_files_of_processes_that_are_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(gone.stdout)
    files = {
        "dead": tmp_path / f"histogram_{dead_pid}.db",
        "mine": tmp_path / f"counter_{os.getpid()}.db",  # a pid reused: its values are old
        "alive": tmp_path / f"gauge_mostrecent_{os.getppid()}.db",
        "other": tmp_path / "notes.txt",
    }
    for file in files.values():
        file.write_bytes(b"")
    monkeypatch.setenv(directory.ENV, str(tmp_path))
    assert directory.prepare() == tmp_path
    assert {name for name, file in files.items() if file.exists()} == {"alive", "other"}


def test_values_are_summed_over_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    observe = (
        "from specialistly.infra.metrics.registry import JOBS\n"
        "JOBS.labels('dispatch_event', 'ok').observe(0.25)\n"
    )
    env = {**os.environ, directory.ENV: str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", observe], env=env, check=True, cwd=ROOT)
    assert len(list(tmp_path.glob("histogram_*.db"))) == 2  # one file per process
    monkeypatch.setenv(directory.ENV, str(tmp_path))
    samples = parse(render().decode())
    labels = {"actor": "dispatch_event", "outcome": "ok"}
    assert value(samples, "specialistly_job_duration_seconds_count", **labels) == 2
    assert value(samples, "specialistly_job_duration_seconds_sum", **labels) == 0.5


def test_the_worker_refuses_a_public_metrics_address_in_development(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPECIALISTLY_ENVIRONMENT", "development")
    code = cli.main(["worker", "--metrics-host", "0.0.0.0", "--metrics-port", "9191"])  # noqa: S104
    assert code == 2
    assert "refusing to serve on 0.0.0.0" in capsys.readouterr().err
