"""HTTP requests by route (its path template, so ids in paths add no series), method and
status (measured by `infra.edge`)."""

from __future__ import annotations

from starlette.types import Scope

from specialistly.infra.metrics.registry import HTTP_REQUESTS, OTHER

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Counts an HTTP request that took `seconds` from its first byte in to its last out."""
    # Starlette's router notes the route it chose in the scope.
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    method = scope["method"] if scope["method"] in _METHODS else OTHER
    HTTP_REQUESTS.labels(route, method, str(status)).observe(seconds)
