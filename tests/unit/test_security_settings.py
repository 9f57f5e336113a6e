"""No published token secret, and a development server only on loopback."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from specialistly.infra.auth import TokenService
from specialistly.processes import cli
from specialistly.processes.dev import development_secret
from specialistly.settings import MissingSecretError, Settings

SECRET = "s" * 40
EVERYWHERE = "0.0.0.0"  # noqa: S104 (what the tests bind to, on paper only)


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without the platform's settings."""
    for name in list(os.environ):
        if name.startswith("SPECIALISTLY_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts the API would have been started on (nothing is started)."""
    hosts: list[str] = []

    def run_api(host: str, port: int, workers: int = 1) -> int:
        hosts.append(host)
        return 0

    monkeypatch.setattr(cli, "run_api", run_api)
    return hosts


def test_there_is_no_default_secret(environ: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.environment == "development"
    assert settings.jwt_secret is None
    with pytest.raises(MissingSecretError):
        TokenService(settings)


def test_production_needs_a_long_secret(environ: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="must be set in production"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(environment="production", jwt_secret="short")
    assert Settings(environment="production", jwt_secret=SECRET).signing_secret() == SECRET


def test_tests_get_a_random_secret_per_process(environ: pytest.MonkeyPatch) -> None:
    one, two = Settings(environment="test"), Settings(environment="test")
    assert len(one.signing_secret()) >= 32
    assert one.signing_secret() != two.signing_secret()


@pytest.mark.parametrize("command", ["serve", "dev"])
@pytest.mark.parametrize("host", [EVERYWHERE, "::", "192.168.1.10", "example.com"])
def test_development_serves_on_loopback_only(
    environ: pytest.MonkeyPatch, served: list[str], command: str, host: str
) -> None:
    environ.setenv("SPECIALISTLY_JWT_SECRET", SECRET)
    assert cli.main([command, "--host", host]) == 2
    assert served == []


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_development_serves_on_loopback(
    environ: pytest.MonkeyPatch, served: list[str], host: str
) -> None:
    environ.setenv("SPECIALISTLY_JWT_SECRET", SECRET)
    assert cli.main(["serve", "--host", host]) == 0
    assert served == [host]


def test_production_serves_on_any_address(environ: pytest.MonkeyPatch, served: list[str]) -> None:
    environ.setenv("SPECIALISTLY_ENVIRONMENT", "production")
    environ.setenv("SPECIALISTLY_JWT_SECRET", SECRET)
    assert cli.main(["serve", "--host", EVERYWHERE]) == 0
    assert served == [EVERYWHERE]


def test_serve_without_a_secret_refuses_to_start(
    environ: pytest.MonkeyPatch, served: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve"]) == 2
    assert served == []
    assert "SPECIALISTLY_JWT_SECRET is not set" in capsys.readouterr().err


def test_dev_keeps_one_private_random_secret_in_its_run_directory(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = development_secret(run_dir)
    assert len(first) >= 32
    assert development_secret(run_dir) == first
    kept = run_dir / "jwt-secret"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert [p.name for p in run_dir.iterdir()] == ["jwt-secret"]
    assert development_secret(tmp_path / "elsewhere") != first
