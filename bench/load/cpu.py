"""Where the machine's CPU went during a load run: the API server, the worker, the
database (FerretDB and PostgreSQL) and the load client, read from /proc (Linux)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
DATABASE = ("ferretdb", "postgres")


@dataclass(frozen=True)
class Sample:
    """Cumulative CPU seconds per part, and of the whole machine (every core)."""

    parts: dict[str, float]
    machine_busy: float
    machine_total: float

    def since(self, earlier: Sample) -> Sample:
        return Sample(
            {name: used - earlier.parts.get(name, 0.0) for name, used in self.parts.items()},
            self.machine_busy - earlier.machine_busy,
            self.machine_total - earlier.machine_total,
        )


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds) of every live process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # Fields after the name: state, ppid, ..., utime (12th), stime (13th).
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS
        found[int(entry.name)] = (int(fields[1]), name, cpu)
    return found


def _tree(pid: int, processes: Mapping[int, tuple[int, str, float]]) -> set[int]:
    members, grown = {pid}, True
    while grown:
        more = {p for p, (parent, _, _) in processes.items() if parent in members} - members
        members |= more
        grown = bool(more)
    return members & processes.keys()


def sample(trees: Mapping[str, int], named: Mapping[str, Iterable[str]]) -> Sample:
    """CPU used so far by each process tree (part -> root pid) and by the processes whose
    name starts with one of the given prefixes (part -> prefixes)."""
    processes = _processes()
    parts = {
        part: sum(processes[p][2] for p in _tree(root, processes)) for part, root in trees.items()
    }
    for part, prefixes in named.items():
        parts[part] = sum(
            cpu for _, name, cpu in processes.values() if name.startswith(tuple(prefixes))
        )
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return Sample(parts, (sum(ticks) - idle) / _TICKS, sum(ticks) / _TICKS)
