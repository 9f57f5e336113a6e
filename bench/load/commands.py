"""How many database commands the API server and the worker sent during a load run, by
command and collection: read from each process's metrics directory (the platform's
`specialistly_database_command_duration_seconds`), so the run measures what production
reports, with nothing added to the measured processes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

_COUNT = "specialistly_database_command_duration_seconds_count"

Commands = dict[str, Counter[str]]  # part -> "command collection" -> count


def sample(directories: Mapping[str, Path]) -> Commands:
    """Commands sent so far by each part (part -> its metrics directory)."""
    return {part: _read(directory) for part, directory in directories.items()}


def since(later: Commands, earlier: Commands) -> Commands:
    return {part: later[part] - earlier.get(part, Counter()) for part in later}


def _read(directory: Path) -> Counter[str]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    counts: Counter[str] = Counter()
    for metric in registry.collect():
        for s in metric.samples:
            if s.name == _COUNT:
                counts[f"{s.labels['command']} {s.labels['collection']}"] += int(s.value)
    return counts


def report(commands: Commands, requests: int, bookings: int, top: int = 6) -> list[str]:
    """Lines saying what each part sent per request and per booking, and its most
    frequent commands per request."""
    lines = []
    for part, counts in commands.items():
        total = sum(counts.values())
        frequent = ", ".join(f"{name} {n / requests:.2f}" for name, n in counts.most_common(top))
        per_booking = f", {total / bookings:.1f} per booking" if bookings else ""
        lines.append(
            f"database commands, {part}: {total / requests:.2f} per request{per_booking};"
            f" most per request: {frequent}"
        )
    return lines
