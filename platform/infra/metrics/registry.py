"""The platform's metrics, and their text for Prometheus.

Every label takes a bounded set of values: names the code chooses (routes, actors,
commands, collections, error codes), or a client's choice capped by `Names`.
"""

from __future__ import annotations

import os
import re
import threading

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from specialistly.infra.metrics.directory import ENV

CONTENT_TYPE = CONTENT_TYPE_LATEST

# The metrics of this process; in multiprocess mode their values are in the directory's
# files, which `render` sums over every process.
REGISTRY = CollectorRegistry()

GRAPHQL_OPERATIONS = Histogram(
    "specialistly_graphql_operation_duration_seconds",
    "GraphQL operations (parse, validation and execution) by name, type and outcome: ok,"
    " an error code, invalid (a document that did not parse or validate) or unexpected",
    ["operation", "type", "outcome"],
    registry=REGISTRY,
)
HTTP_REQUESTS = Histogram(
    "specialistly_http_request_duration_seconds",
    "HTTP requests by route, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
DATABASE_COMMANDS = Histogram(
    "specialistly_database_command_duration_seconds",
    "Database commands by command, collection and outcome (ok or error)",
    ["command", "collection", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
REDIS_COMMANDS = Histogram(
    "specialistly_redis_command_duration_seconds",
    "Redis commands by command and outcome (ok or error); a pipeline counts as PIPELINE"
    " and putting a job on its queue as ENQUEUE",
    ["command", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
JOBS = Histogram(
    "specialistly_job_duration_seconds",
    "Worker jobs by actor and outcome (ok or failed)",
    ["actor", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge(
    "specialistly_outbox_backlog",
    "Documents whose outbox held events past the grace period at the last sweep, by"
    " collection (changes that stopped before publishing; the sweep publishes them)",
    ["collection"],
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)
EVENTS_DUE = Gauge(
    "specialistly_events_due",
    "Stored events not yet handled by every plugin whose delivery was overdue at the last"
    " sweep (at most 100 are taken per sweep)",
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)

OTHER = "other"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


class Names:
    """A label's values as given, up to `limit` distinct ones per process; any later new
    one, and any that does not look like a name, counts as "other"."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, name: str) -> str:
        if name in self._seen:
            return name
        if not _NAME.match(name):
            return OTHER
        with self._lock:
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(name)
        return name


def render() -> bytes:
    """The text exposition of every process's metrics (of this one's, outside
    multiprocess mode)."""
    directory = os.environ.get(ENV)
    if not directory:
        return generate_latest(REGISTRY)
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(merged)
