"""/metrics after real GraphQL operations and real jobs, served by an API with two
uvicorn workers and a worker process that share one metrics directory."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId
from beanie.odm.utils.dump import get_dict
from pymongo import MongoClient

from specialistly.core.events import Event
from specialistly.infra.broker import Jobs
from specialistly.runtime import Runtime
from specialistly.settings import Settings
from tests.client import REGISTER, GraphQLClient
from tests.factories import stored_event
from tests.metrics_text import Samples, parse, value
from tests.processes import Process, free_port
from tests.waiting import eventually

TOKEN = secrets.token_urlsafe(24)
AUTH = {"authorization": f"Bearer {TOKEN}"}
SECONDS = "specialistly_graphql_operation_duration_seconds_count"


@dataclass
class Observed:
    api_url: str
    worker_url: str
    namespace: str  # of their queues, and their database's name
    directory: Path


@pytest.fixture(scope="module")
def observed(
    test_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Observed]:
    directory = tmp_path_factory.mktemp("metrics")
    # A queue of their own, so that no other worker of the session takes their jobs, and a
    # database of their own, so that what they report (the outbox backlog) is of their
    # doing only.
    namespace = f"metrics_{secrets.token_hex(4)}"
    env = {
        **test_env,
        "SPECIALISTLY_DATABASE": namespace,
        "SPECIALISTLY_BROKER_NAMESPACE": namespace,
        "SPECIALISTLY_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    logs = tmp_path_factory.mktemp("metrics-logs")
    api_port, worker_port = free_port(), free_port()
    api = Process("api", ["serve", "--port", str(api_port), "--workers", "2"], env, logs)
    worker = Process(
        "worker", ["worker", "--threads", "1", "--metrics-port", str(worker_port)], env, logs
    )
    api.start()
    worker.start()
    try:
        api.wait_until_ready(f"http://127.0.0.1:{api_port}/readyz", within=60)
        yield Observed(
            f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{worker_port}", namespace, directory
        )
    finally:
        api.stop()
        worker.stop()
        with MongoClient[dict[str, Any]](test_env["MONGODB_URL"]) as mongo:
            mongo.drop_database(namespace)


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{url}/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_operations_requests_database_redis_and_jobs_are_measured(
    observed: Observed, runtime: Runtime, settings: Settings
) -> None:
    client = GraphQLClient(observed.api_url)
    email = f"metrics-{secrets.token_hex(6)}@example.com"
    registration = {
        "input": {
            "email": email,
            "password": "pw-" + secrets.token_urlsafe(12),
            "displayName": "M",
            "role": "CUSTOMER",
        }
    }
    first = await client.data(REGISTER, registration)
    assert first["register"]["errors"] == []
    again = await client.data(REGISTER, registration)
    assert again["register"]["errors"][0]["code"] == "EMAIL_TAKEN"
    assert await client.data("{ __typename }") == {"__typename": "Query"}
    invalid = await client.execute("query Broken { noSuchField }")
    assert invalid["errors"]
    async with httpx.AsyncClient(base_url=observed.api_url) as http:
        assert (await http.get("/no-such-page")).status_code == 404

    # A real job: delivering an event stored in their database, on the worker's own queue.
    event = stored_event("test.metrics", "test:metrics")
    event.id = PydanticObjectId()
    events = runtime.mongo[observed.namespace][Event.get_pymongo_collection().name]
    await events.insert_one(get_dict(event, to_db=True))
    jobs = Jobs(settings.model_copy(update={"broker_namespace": observed.namespace}))
    try:
        await jobs.send("dispatch_event", str(event.id))
    finally:
        jobs.close()

    async def measured() -> Samples | None:
        samples = await scrape(observed.api_url)
        jobs = "specialistly_job_duration_seconds_count"
        delivered = value(samples, jobs, actor="dispatch_event", outcome="ok")
        # The periodic sweep sets the outbox gauges; on a busy machine it may come later.
        swept = value(samples, jobs, actor="sweep_events", outcome="ok")
        return samples if delivered and swept else None

    # The API's scrape sums every process: its two uvicorn workers and the job worker.
    samples = await eventually(measured)
    delivered = await events.find_one({"_id": event.id})
    assert delivered is not None and delivered["dispatched_at"] is not None
    assert value(samples, SECONDS, operation="Register", type="mutation", outcome="ok") == 1
    assert (
        value(samples, SECONDS, operation="Register", type="mutation", outcome="EMAIL_TAKEN") == 1
    )
    assert value(samples, SECONDS, operation="anonymous", type="query", outcome="ok") == 1
    assert value(samples, SECONDS, operation="Broken", type="query", outcome="invalid") == 1

    requests = "specialistly_http_request_duration_seconds_count"
    assert value(samples, requests, route="/graphql", method="POST", status="200") == 4
    assert value(samples, requests, route="unmatched", method="GET", status="404") == 1

    commands = "specialistly_database_command_duration_seconds_count"
    assert value(samples, commands, command="insert", collection="users", outcome="ok")
    assert value(samples, commands, command="find", collection="events", outcome="ok")
    redis = "specialistly_redis_command_duration_seconds_count"
    assert value(samples, redis, command="EVALSHA", outcome="ok")  # the request limits

    assert value(
        samples, "specialistly_job_duration_seconds_count", actor="sweep_events", outcome="ok"
    )
    assert value(samples, "specialistly_outbox_backlog", collection="bookings") == 0
    assert value(samples, "specialistly_events_due") is not None

    # Every label value comes from a bounded set: no ids, no emails, no raw paths.
    labels = {v for _, pairs in samples for _, v in pairs}
    assert not any(email in v or "no-such-page" in v for v in labels)


async def test_the_worker_serves_its_own_metrics_on_its_port(observed: Observed) -> None:
    async def jobs_measured() -> Samples | None:
        try:
            samples = await scrape(observed.worker_url)
        except httpx.TransportError:  # not listening yet
            return None
        count = value(
            samples, "specialistly_job_duration_seconds_count", actor="sweep_bookings", outcome="ok"
        )
        return samples if count else None

    await eventually(jobs_measured, within=60)
    async with httpx.AsyncClient(base_url=observed.worker_url) as http:
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/elsewhere", headers=AUTH)).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer wrong-token-of-some-length"}, {"authorization": TOKEN}],
)
async def test_metrics_need_the_token(observed: Observed, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=observed.api_url) as http:
        response = await http.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "specialistly_" not in response.text


def _worker_environment(dev_pid: int) -> dict[str, str]:
    """The environment `specialistly dev` gave its worker process."""
    for task in Path(f"/proc/{dev_pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b" worker" in Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" "):
                raw = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
                pairs = (item.decode().partition("=") for item in raw if b"=" in item)
                return {name: val for name, _, val in pairs}
    pytest.fail("specialistly dev has no worker")


async def test_dev_reports_its_workers_jobs_and_removes_its_directory(
    test_env: dict[str, str], tmp_path: Path
) -> None:
    name = f"dev_{secrets.token_hex(4)}"
    env = {**test_env, "SPECIALISTLY_DATABASE": name, "SPECIALISTLY_BROKER_NAMESPACE": name}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    port = free_port()
    dev = Process("dev", ["dev", "--port", str(port)], env, tmp_path)
    dev.start()
    assert dev.proc is not None
    try:
        dev.wait_until_ready(f"http://127.0.0.1:{port}/readyz", within=60)
        directory = Path(_worker_environment(dev.proc.pid)["PROMETHEUS_MULTIPROC_DIR"])
        assert await asyncio.to_thread(directory.is_dir)

        async def swept() -> Samples | None:
            samples = await scrape(f"http://127.0.0.1:{port}")  # open in test, no token set
            count = value(
                samples,
                "specialistly_job_duration_seconds_count",
                actor="sweep_events",
                outcome="ok",
            )
            return samples if count else None

        await eventually(swept, within=60)
    finally:
        dev.stop()
        with MongoClient[dict[str, Any]](test_env["MONGODB_URL"]) as mongo:
            mongo.drop_database(name)
    assert not await asyncio.to_thread(directory.exists)
