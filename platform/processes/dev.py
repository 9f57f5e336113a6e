"""`specialistly dev`: the API and a worker on one machine, with demo data."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from types import FrameType

from specialistly.infra.logs import configure_logging
from specialistly.processes import demo
from specialistly.processes.cli import run_api
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


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_dev(settings: Settings, host: str, port: int) -> int:
    """Run until SIGINT or SIGTERM, then stop the worker too.

    uvicorn shuts down gracefully on either signal, then raises it again; SIGTERM's
    default action would end this process at once and leave the worker orphaned, so
    SIGTERM is turned into the KeyboardInterrupt that SIGINT already is.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    configure_logging()
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
