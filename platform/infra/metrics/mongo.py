"""Database commands by command and collection, from pymongo's command monitoring."""

from __future__ import annotations

from typing import Any

from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from specialistly.infra.metrics.registry import DATABASE_COMMANDS, OTHER, Names

_COMMANDS = frozenset(
    {
        "aggregate",
        "count",
        "createIndexes",
        "delete",
        "distinct",
        "drop",
        "dropDatabase",
        "explain",
        "find",
        "findAndModify",
        "getMore",
        "insert",
        "killCursors",
        "listCollections",
        "listIndexes",
        "ping",
        "update",
    }
)


class DatabaseMetrics(CommandListener):
    """Records each command's duration (as the driver measured it) when it ends.

    The collection is known only when a command starts, so it is kept until then, keyed by
    the connection and request that identify the command.
    """

    def __init__(self) -> None:
        self._collections: dict[tuple[Any, int], str] = {}
        self._names = Names(limit=200)

    def started(self, event: CommandStartedEvent) -> None:
        collection = _collection(event.command_name, event.command)
        key = (event.connection_id, event.request_id)
        self._collections[key] = self._names(collection) if collection != "-" else "-"

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self._record(event, "ok")

    def failed(self, event: CommandFailedEvent) -> None:
        self._record(event, "error")

    def _record(self, event: CommandSucceededEvent | CommandFailedEvent, outcome: str) -> None:
        collection = self._collections.pop((event.connection_id, event.request_id), "-")
        command = event.command_name if event.command_name in _COMMANDS else OTHER
        DATABASE_COMMANDS.labels(command, collection, outcome).observe(
            event.duration_micros / 1_000_000
        )


def _collection(command_name: str, command: Any) -> str:
    """The collection a command works on, or "-" for commands on a database."""
    target = command.get("collection") if command_name == "getMore" else command.get(command_name)
    return target if isinstance(target, str) else "-"
