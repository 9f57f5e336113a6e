"""`specialistly dev`: the API and a worker on one machine, with demo data."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from specialistly.infra.logs import configure_logging
from specialistly.processes import demo
from specialistly.processes.cli import run_api
from specialistly.runtime import start_runtime
from specialistly.settings import Settings


async def _seed(settings: Settings) -> list[str]:
    runtime = await start_runtime(settings)
    try:
        async with runtime.unit_of_work():
            return await demo.seed(runtime)
    finally:
        await runtime.close()


def run_dev(settings: Settings, host: str, port: int) -> int:
    configure_logging()
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
