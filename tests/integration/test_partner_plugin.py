"""A partner's plugin, installed as its own distribution, is found through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    listing = specialistly(site, "plugins")
    assert "partner-example" in listing
    assert "email:partner-mail" in listing


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
