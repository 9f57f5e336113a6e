"""`specialistly dev`: the API and a worker on one machine, with demo data."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from pydantic import SecretStr

from specialistly.infra.logs import configure_logging
from specialistly.processes import demo
from specialistly.processes.cli import run_api
from specialistly.processes.dev_mail import start_mail_server
from specialistly.runtime import start_runtime
from specialistly.settings import Settings

WORKER_STOP_TIMEOUT = 15  # seconds a stopping worker gets before it is killed


async def _seed(settings: Settings) -> list[str]:
    runtime = await start_runtime(settings)
    try:
        async with runtime.unit_of_work():
            return await demo.seed(runtime)
    finally:
        await runtime.close()


def development_secret(run_dir: Path) -> str:
    """The token secret kept in the run directory (made on first use, readable by its owner
    only), so logins survive a restart and no two machines share one."""
    path = run_dir / "jwt-secret"
    if not path.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        draft = run_dir / f".jwt-secret.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)  # atomic: of two first runs, one secret wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def run_dir() -> Path:
    """Where scripts/services keeps its state: $SPECIALISTLY_RUN or ~/.cache/specialistly/run."""
    given = os.environ.get("SPECIALISTLY_RUN")
    return Path(given) if given else Path.home() / ".cache" / "specialistly" / "run"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_dev(settings: Settings, host: str, port: int, mail_port: int = 1025) -> int:
    """Run until SIGINT or SIGTERM, then stop the worker too.

    uvicorn shuts down gracefully on either signal, then raises it again; SIGTERM's
    default action would end this process at once and leave the worker orphaned, so
    SIGTERM is turned into the KeyboardInterrupt that SIGINT already is.

    Unless ``SPECIALISTLY_SMTP_HOST`` names a mail server, the emails go to a catch-all
    server on 127.0.0.1:`mail_port` that prints each one and keeps it in the run directory.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    configure_logging()
    if settings.jwt_secret is None:
        secret = development_secret(run_dir())
        # The API (built by uvicorn's factory) and the worker read it from the environment.
        os.environ["SPECIALISTLY_JWT_SECRET"] = secret
        settings = settings.model_copy(update={"jwt_secret": SecretStr(secret)})
    _stripe_mock_unless_configured()
    mail = None
    if "SPECIALISTLY_SMTP_HOST" not in os.environ:
        mail_dir = run_dir() / "mail"
        mail = start_mail_server(mail_dir, mail_port)
        # The API and the worker read the SMTP plugin's settings from the environment.
        os.environ.update(SPECIALISTLY_SMTP_HOST="127.0.0.1", SPECIALISTLY_SMTP_PORT=str(mail_port))
        print(f"  emails are printed here and kept in {mail_dir}", file=sys.stderr)
    try:
        return _run(settings, host, port)
    finally:
        if mail is not None:
            mail.stop()


def _run(settings: Settings, host: str, port: int) -> int:
    try:
        logins = asyncio.run(_seed(settings))
    except KeyboardInterrupt:
        return 0
    # The worker runs in its own process: Beanie binds its models to one event loop.
    worker = subprocess.Popen([sys.executable, "-m", "specialistly.processes.cli", "worker"])
    try:
        _print_banner(host, port, logins)
        run_api(host, port)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(worker)
    return 0


def _stripe_mock_unless_configured() -> None:
    """Without Stripe keys, paid bookings pay through the local stripe-mock of
    scripts/services (the API, the worker and the seeding read these)."""
    if os.environ.get("SPECIALISTLY_STRIPE_SECRET_KEY"):
        return
    mock = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111")
    os.environ.update(
        {
            "SPECIALISTLY_STRIPE_SECRET_KEY": "sk_test_development",
            "SPECIALISTLY_STRIPE_PUBLISHABLE_KEY": "pk_test_development",
            "SPECIALISTLY_STRIPE_API_BASE": mock,
            "SPECIALISTLY_STRIPE_REQUIRE_PAYOUTS": "false",
        }
    )


def _print_banner(host: str, port: int, logins: list[str]) -> None:
    banner = [
        "",
        f"  Specialistly is running: GraphiQL at http://{host}:{port}/graphql",
        f"  health: http://{host}:{port}/healthz   readiness: http://{host}:{port}/readyz",
        "  demo logins:",
        *(f"    {line}" for line in logins),
        "",
    ]
    print("\n".join(banner), file=sys.stderr, flush=True)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):  # a second signal must not cut this short
        signal.signal(signum, signal.SIG_IGN)
    worker.terminate()
    try:
        worker.wait(timeout=WORKER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
