"""`specialistly dev`: the API and a worker on one machine, with demo data."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from specialistly.infra.logs import configure_logging
from specialistly.processes import demo
from specialistly.processes.cli import run_api
from specialistly.runtime import start_runtime
from specialistly.settings import Settings


async def _seed(settings: Settings) -> list[str]:
    runtime = await start_runtime(settings)
    try:
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


def run_dev(settings: Settings, host: str, port: int) -> int:
    configure_logging()
    if settings.jwt_secret is None:
        secret = development_secret(run_dir())
        # The API (built by uvicorn's factory) and the worker read it from the environment.
        os.environ["SPECIALISTLY_JWT_SECRET"] = secret
        settings = settings.model_copy(update={"jwt_secret": SecretStr(secret)})
    logins = asyncio.run(_seed(settings))
    # The worker runs in its own process: Beanie binds its models to one event loop.
    worker = subprocess.Popen([sys.executable, "-m", "specialistly.processes.cli", "worker"])
    banner = [
        "",
        f"  Specialistly is running: GraphiQL at http://{host}:{port}/graphql",
        f"  health: http://{host}:{port}/healthz   readiness: http://{host}:{port}/readyz",
        "  demo logins:",
        *(f"    {line}" for line in logins),
        "",
    ]
    print("\n".join(banner), file=sys.stderr, flush=True)
    try:
        run_api(host, port)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
    return 0
