"""`memory.settle` freezes what start-up built and collects the young less often (in a
process of its own: it changes the collector of the whole process)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from specialistly.processes import memory
before = gc.get_threshold()
assert gc.get_freeze_count() == 0
memory.settle()
print(gc.get_freeze_count() > 0, before[1:] == gc.get_threshold()[1:], gc.get_threshold()[0])
"""


def test_settle_freezes_and_raises_the_young_threshold() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    )
    from specialistly.processes.memory import YOUNG_THRESHOLD

    assert done.stdout.split() == ["True", "True", str(YOUNG_THRESHOLD)]
