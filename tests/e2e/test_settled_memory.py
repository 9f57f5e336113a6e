"""`specialistly serve` and `specialistly worker` settle their memory once started
(processes/memory.py), then stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from specialistly.processes.memory import YOUNG_THRESHOLD
from tests.processes import ROOT, free_port

# The process reports the collector's state right after the real `settle`, then asks
# itself to stop as an operator would.
SCRIPT = """
import gc, os, signal, sys
from specialistly.processes import memory
settle = memory.settle
def reporting_settle():
    settle()
    print("settled", gc.get_freeze_count() > 0, gc.get_threshold()[0], flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
memory.settle = reporting_settle
from specialistly.processes.cli import main
sys.exit(main(sys.argv[1:]))
"""


# uvicorn, once it has shut down gracefully, raises the signal it handled again.
@pytest.mark.parametrize(
    ("command", "ends_with"),
    [(["serve", "--port", "PORT"], -signal.SIGTERM), (["worker"], 0)],
)
def test_the_process_settles_its_memory_once_started(
    command: list[str], ends_with: int, test_env: dict[str, str]
) -> None:
    args = [str(free_port()) if arg == "PORT" else arg for arg in command]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        env={**os.environ, **test_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == ends_with, done.stdout + done.stderr
    assert f"settled True {YOUNG_THRESHOLD}" in done.stdout.splitlines(), done.stdout + done.stderr
