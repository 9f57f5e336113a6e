"""Where the processes of one deployment keep their metrics, so that any of them can
report the sum (prometheus_client's multiprocess mode).

prometheus_client decides on its first import whether values live in memory or in files
of `PROMETHEUS_MULTIPROC_DIR`, so `prepare` runs before that import: in the CLI, before
the API (with its uvicorn workers) or the worker is loaded. Nothing here imports it.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"

# prometheus_client names each file <kind>_<pid>.db
_FILE = re.compile(r"^[a-z_]+_(\d+)\.db$")


def prepare() -> Path:
    """The metrics directory of this process and its children, ready to use.

    When `PROMETHEUS_MULTIPROC_DIR` is set (by the operator, or by a parent process such as
    `specialistly dev`), its files left by processes that are gone are removed, so that a
    restart starts from zero while live siblings keep theirs. Otherwise a fresh directory
    is made, named in the environment for the children, and removed when this process ends.
    """
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        remove_stale(path)
        return path
    path = Path(tempfile.mkdtemp(prefix="specialistly-metrics-"))
    os.environ[ENV] = str(path)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def remove_stale(path: Path) -> list[Path]:
    """Remove the files of processes that no longer run (and this one's: a process with
    this pid before it is gone, as after a container restart). Returns what was removed."""
    removed = []
    for file in path.iterdir():
        match = _FILE.match(file.name)
        if match and (int(match[1]) == os.getpid() or not _running(int(match[1]))):
            file.unlink(missing_ok=True)
            removed.append(file)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
