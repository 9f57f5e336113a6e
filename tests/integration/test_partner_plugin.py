"""A partner's plugin, installed as its own distribution, is found through its entry point."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from specialistly.core.clock import utcnow
from specialistly.core.events import Event
from specialistly.plugin_system.dispatch import dispatch_event
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.runtime import Runtime

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
        "notifications",
        "meetings",
    ]
    mail = cast(Any, with_partner.providers.email["partner-mail"])
    assert [m.to for m in mail.sent.values()] == [("desk@partner.test",)]
