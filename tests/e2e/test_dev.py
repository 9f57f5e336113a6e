"""`specialistly dev` stops its worker however it is stopped."""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from tests.processes import Process, free_port


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_dev_stops_its_worker_on(
    signum: signal.Signals, test_env: dict[str, str], tmp_path: Path
) -> None:
    # dev seeds demo data: into a database of its own, not the session's.
    name = f"dev_{secrets.token_hex(4)}"
    env = {**test_env, "SPECIALISTLY_DATABASE": name, "SPECIALISTLY_BROKER_NAMESPACE": name}
    port = free_port()
    dev = Process("dev", ["dev", "--port", str(port)], env, tmp_path)
    dev.start()
    assert dev.proc is not None
    workers: list[int] = []
    try:
        dev.wait_until_ready(f"http://127.0.0.1:{port}/readyz", within=60)
        workers = [p for p in children(dev.proc.pid) if " worker" in command_line(p)]
        assert len(workers) == 1, dev.tail()

        dev.proc.send_signal(signum)
        assert dev.proc.wait(timeout=60) == 0, dev.tail()
        assert not alive(workers[0]), "the worker outlived `specialistly dev`"
    finally:
        dev.stop()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        mongo: MongoClient[dict[str, Any]] = MongoClient(test_env["MONGODB_URL"])
        with mongo:
            mongo.drop_database(name)
