"""A partner's plugin, installed as its own distribution, is found through its entry point."""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio
from bson import ObjectId

from specialistly.core.clock import utcnow
from specialistly.core.events import Event
from specialistly.plugin_system.dispatch import dispatch_event
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.runtime import Runtime
from tests.client import GraphQLClient
from tests.processes import Process, free_port
from tests.waiting import eventually

PARTNER = Path(__file__).resolve().parent.parent / "partner_plugin"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where the partner distribution is installed (like a site-packages)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(PARTNER),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path_factory.mktemp("build"),
    )
    return target


def specialistly(site: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-m", "specialistly.processes.cli", *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return done.stdout


def test_installed_partner_plugin_is_loaded(site: Path) -> None:
    assert (site / "specialistly_partner_example-1.0.0.dist-info" / "entry_points.txt").exists()
    listing = specialistly(site, "plugins").splitlines()
    at = next(i for i, line in enumerate(listing) if line.startswith("partner-example "))
    assert listing[at].split() == [
        "partner-example",
        "1.0.0",
        "entry",
        "point",
        "specialistly_partner_example",
    ]
    assert listing[at + 1].split(": ") == [
        "    hooks",
        "email_providers, graphql_contribution, on_event[tryfirst], settings_class",
    ]
    assert listing[at + 2].strip() == "providers: email:partner-mail"


def test_installed_partner_plugin_extends_the_schema(site: Path, tmp_path: Path) -> None:
    path = tmp_path / "schema.graphql"
    specialistly(site, "export-schema", str(path))
    assert "partnerStatus: String!" in path.read_text()
    # Without the distribution on the path, the field is gone again.
    plain = subprocess.run(
        [
            sys.executable,
            "-m",
            "specialistly.processes.cli",
            "export-schema",
            str(tmp_path / "p.graphql"),
        ],
        check=True,
        capture_output=True,
    )
    assert plain.returncode == 0
    assert "partnerStatus" not in (tmp_path / "p.graphql").read_text()


# --------------------------------------------------------------------------- its own outbox


@dataclass
class PartnerPlatform:
    """An API server and a worker loading the partner distribution, on a database and a
    broker namespace of their own (the session's worker, without the partner, would take
    their events)."""

    client: GraphQLClient
    database: Any  # the platform's database, read raw as an operator would

    async def note(self, note_id: object) -> dict[str, Any]:
        note: dict[str, Any] = await self.database["partner_notes"].find_one({"_id": note_id})
        return note

    async def delivered(self, note_id: object) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            note = await self.note(note_id)
            return note if note["delivered"] else None

        return await eventually(check)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def partner_platform(
    site: Path,
    test_env: dict[str, str],
    runtime: Runtime,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[PartnerPlatform]:
    name = f"partner_{secrets.token_hex(4)}"
    env = {
        **test_env,
        "PYTHONPATH": str(site),
        "SPECIALISTLY_DATABASE": name,
        "SPECIALISTLY_BROKER_NAMESPACE": name,
    }
    logs = tmp_path_factory.mktemp("partner")
    port = free_port()
    api = Process("partner-api", ["serve", "--port", str(port)], env, logs)
    worker = Process("partner-worker", ["worker", "--threads", "2"], env, logs)
    api.start()
    worker.start()
    try:
        url = f"http://127.0.0.1:{port}"
        api.wait_until_ready(f"{url}/readyz")
        yield PartnerPlatform(GraphQLClient(url), runtime.mongo[name])
    finally:
        api.stop()
        worker.stop()
        await runtime.mongo.drop_database(name)


async def test_a_plugin_document_event_is_published_when_the_operation_ends(
    partner_platform: PartnerPlatform,
) -> None:
    data = await partner_platform.client.data('mutation { recordPartnerNote(text: "hi") }')
    note_id = ObjectId(data["recordPartnerNote"])

    # Published before the answer left, by the operation's unit of work, not by the plugin.
    assert (await partner_platform.note(note_id))["outbox"] == []
    events = partner_platform.database["events"]
    stored = await events.find_one({"subject": f"partner_notes:{note_id}"})
    assert stored is not None and stored["name"] == "partner.note_recorded"

    await partner_platform.delivered(note_id)


async def test_the_sweeper_publishes_outboxes_of_plugin_documents(
    partner_platform: PartnerPlatform,
) -> None:
    # A note whose writer stopped before its change finished: its event waits in the outbox
    # (with the flag insert_with_events raises).
    note_id = ObjectId()
    left = {"id": ObjectId(), "name": "partner.note_recorded", "version": 1}
    left |= {"data": {"note_id": str(note_id)}, "occurred_at": utcnow() - timedelta(minutes=1)}
    note = {"_id": note_id, "text": "left behind", "delivered": False, "outbox": [left]}
    note["outbox_waiting"] = True
    await partner_platform.database["partner_notes"].insert_one(note)

    delivered = await partner_platform.delivered(note_id)
    assert delivered["outbox"] == []


async def test_installed_partner_plugin_reacts_first_with_its_own_settings(
    site: Path, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its `on_event` is marked tryfirst: it runs before the plugins registered after it
    (the extra example plugin) and the built-ins, and reads its settings from the runtime."""
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("SPECIALISTLY_PARTNER_DESK_ADDRESS", "desk@partner.test")
    monkeypatch.setenv("SPECIALISTLY_PARTNER_WATCHED_EVENTS", '["partner.probe"]')
    plugins = create_plugin_manager(runtime.settings)
    with_partner = dataclasses.replace(runtime, plugins=plugins, providers=plugins.providers())
    now = utcnow()
    # Leased for an hour, so that no sweeper delivers it meanwhile.
    event = Event(
        name="partner.probe",
        subject="test:partner",
        occurred_at=now,
        next_attempt_at=now + timedelta(hours=1),
    )
    await event.insert()

    assert await dispatch_event(str(event.id), with_partner)

    stored = await Event.get(event.id)
    assert stored is not None
    assert stored.handled_by == [
        "partner-example",
        "tests.plugins.example",
        "zoom",
        "partner-example-notes",
        "account-mail",
        "mail",
        "in-app-notifications",
        "notifications",
        "payments",
        "meetings",
    ]
    mail = cast(Any, with_partner.providers.email["partner-mail"])
    assert [m.to for m in mail.sent.values()] == [("desk@partner.test",)]
