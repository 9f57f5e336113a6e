"""API servers of their own for tests that need settings the session's server lacks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import Process, free_port


def serve(env: dict[str, str], log_dir: Path, name: str = "api") -> Iterator[str]:
    """Start `specialistly serve` with `env`, yield its base URL once it is ready, stop it."""
    port = free_port()
    server = Process(name, ["serve", "--port", str(port)], env, log_dir)
    server.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a loaded machine may take that long to import
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert server.proc is not None
        if server.proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"the API server did not start:\n{server.tail()}")
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.stop()
