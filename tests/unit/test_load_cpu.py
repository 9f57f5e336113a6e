"""The load run's CPU accounting reads this machine's processes."""

from __future__ import annotations

import subprocess
import sys

from bench.load import cpu


def test_a_process_tree_counts_its_children() -> None:
    busy = "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {busy!r}])",
        ]
    )
    try:
        first = cpu.sample({"tree": parent.pid}, {})
        while True:
            later = cpu.sample({"tree": parent.pid}, {})
            if later.since(first).parts["tree"] >= 0.2 or parent.poll() is not None:
                break
        assert later.since(first).parts["tree"] >= 0.2
    finally:
        parent.wait()


def test_processes_are_counted_by_name() -> None:
    me = cpu.sample({}, {"python": ("python",)})
    assert me.parts["python"] > 0
    assert 0 < me.machine_busy <= me.machine_total
