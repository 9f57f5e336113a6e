"""The load run (bench/load/run.py) works end to end: a few users for a few seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.processes import ROOT


def test_a_short_load_run_has_no_errors(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "bench.load.run", "--users", "4", "--spawn-rate", "4"]
    # Quick clicks, so that every user goes through whole visits within the run.
    command += ["--seconds", "10", "--think", "0.05", "--specialists", "2", "--report", str(report)]
    command += ["--api-processes", "2"]  # as deployed: one per core
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rate limits lifted for this run" in done.stdout
    assert "the API server runs 2 processes" in done.stdout
    summary = json.loads(report.read_text())
    assert summary["failures"] == 0, summary["errors"]
    # How far the users get depends on the machine; the first step always runs.
    assert summary["operations"]["search"]["requests"] > 0
    # Where the CPU went while measured: each part of the platform and the load client.
    used = summary["cpu"]
    assert set(used) >= {"API server", "worker", "database", "load client", "machine busy"}
    assert used["API server"] > 0 and used["load client"] > 0
    assert 0 < used["machine busy"] <= summary["cpu_available"]
    assert "CPU while measured:" in done.stdout
    # The database commands each part sent, read from its metrics: a booking's, at least.
    sent = summary["commands"]
    assert set(sent) == {"API server", "worker"}
    assert sent["API server"]["find specialist_profiles"] > 0
    assert sent["worker"]["find events"] > 0
    assert "database commands, API server:" in done.stdout
    # The worker delivered every event the run published once the load stopped.
    assert summary["catching_up"]["events_left"] == 0
    assert "events left undelivered" in done.stdout
