"""Recording every filter a platform process sends to the database, for the pushdown test.

`python -m tests.query_recorder LOG ARGS...` runs `specialistly ARGS...` with a pymongo
command listener registered before any client exists, so it sees every query the process
sends, whoever wrote it (core, features, plugins). Each filter of a find, aggregate (its
leading `$match`), count, distinct, update, delete or findAndModify whose shape (fields,
operators and value types) is new is appended to LOG as one JSON line.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS
from pymongo import monitoring

# Where each command keeps its filters.
_SINGLE = {"find": "filter", "count": "query", "distinct": "query", "findAndModify": "query"}
_MANY = {"update": ("updates", "q"), "delete": ("deletes", "q")}


def filters_of(name: str, command: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The filters a command selects documents with (an empty one selects them all)."""
    if name in _SINGLE:
        return [dict(command.get(_SINGLE[name]) or {})]
    if name in _MANY:
        field, key = _MANY[name]
        return [dict(statement.get(key) or {}) for statement in command.get(field, [])]
    if name == "aggregate":
        stages = command.get("pipeline") or [{}]
        return [dict(stages[0].get("$match") or {})]
    return []


def shape(value: Any) -> Any:
    """The value with every leaf replaced by its type's name: what decides a pushdown."""
    if isinstance(value, Mapping):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return sorted({json.dumps(shape(item), sort_keys=True) for item in value})
    return type(value).__name__


def shape_key(collection: str, query: Mapping[str, Any]) -> str:
    return json.dumps([collection, shape(query)], sort_keys=True)


class QueryRecorder(monitoring.CommandListener):
    """Appends each new (collection, filter shape) to a file, with one example filter."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[str] = set()
        self._lock = threading.Lock()  # the worker's threads share the client

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        if not isinstance(collection, str):
            return
        for query in filters_of(event.command_name, event.command):
            key = shape_key(collection, query)
            with self._lock:
                if key in self._seen:
                    continue
                self._seen.add(key)
                record = {"collection": collection, "command": event.command_name}
                record["filter"] = json_util.dumps(query, json_options=CANONICAL_JSON_OPTIONS)
                with self.path.open("a") as log:
                    log.write(json.dumps(record) + "\n")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def recorded(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(collection, command, example filter) of every shape in a log, first seen first."""
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        record = json.loads(line)
        query = json_util.loads(record["filter"], json_options=CANONICAL_JSON_OPTIONS)
        found.setdefault(
            shape_key(record["collection"], query),
            (record["collection"], record["command"], query),
        )
    return list(found.values())


def main(argv: list[str]) -> int:
    from specialistly.processes import cli

    monitoring.register(QueryRecorder(Path(argv[0])))
    return cli.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
