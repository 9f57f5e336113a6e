"""What the Zoom plugins measure, in the platform's registry (served on ``/metrics``).

Every label takes a bounded set of values: reasons named here, and the event types the
webhook endpoint knows (any other counts as "other").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter

from prometheus_client import Counter, Histogram

from specialistly.infra.metrics.registry import REGISTRY
from specialistly.providers import ProviderError

MEETINGS_CREATED = Counter(
    "specialistly_zoom_meetings_created",
    "Zoom meetings created for bookings (or found again after an interrupted try)",
    registry=REGISTRY,
)
MEETING_FAILURES = Counter(
    "specialistly_zoom_meeting_failures",
    "Zoom meeting creations that failed, by reason: unavailable (timeouts, 5xx), daily_limit,"
    " not_connected, not_configured, refused (any other answer of Zoom's); deadline counts"
    " the bookings whose meeting was given up at the deadline",
    ["reason"],
    registry=REGISTRY,
)
CREATION_SECONDS = Histogram(
    "specialistly_zoom_meeting_creation_seconds",
    "Time to create a booking's Zoom meeting and store it, pacing and retries included",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
TOKEN_REFRESHES = Counter(
    "specialistly_zoom_token_refreshes",
    "Zoom access tokens refreshed",
    registry=REGISTRY,
)
TOKEN_REFRESH_FAILURES = Counter(
    "specialistly_zoom_token_refresh_failures",
    "Zoom token refreshes that failed, by reason: revoked (Zoom refused the grant) or"
    " unavailable (Zoom did not answer, or answered an error)",
    ["reason"],
    registry=REGISTRY,
)
WEBHOOKS_RECEIVED = Counter(
    "specialistly_zoom_webhooks_received",
    "Signed Zoom webhook deliveries, by event type",
    ["event"],
    registry=REGISTRY,
)
WEBHOOKS_REJECTED = Counter(
    "specialistly_zoom_webhooks_rejected",
    "Zoom webhook deliveries refused or dropped, by reason: signature, stale (timestamp out"
    " of tolerance), malformed, replay (already handled), not_configured",
    ["reason"],
    registry=REGISTRY,
)


def failure_reason(exc: ProviderError) -> str:
    """A failed creation's reason, by the error's kind (see the classes' own modules)."""
    # Imported here: those modules measure with this one.
    from specialistly_zoom.client import ZoomDailyLimitError
    from specialistly_zoom.connections import NotConnectedError
    from specialistly_zoom.provider import NotConfiguredError

    if isinstance(exc, ZoomDailyLimitError):
        return "daily_limit"
    if isinstance(exc, NotConnectedError):
        return "not_connected"
    if isinstance(exc, NotConfiguredError):
        return "not_configured"
    return "unavailable" if exc.transient else "refused"


@contextmanager
def creation() -> Iterator[None]:
    """Measure one creation of a booking's meeting: its time if it succeeds, its reason
    if it fails."""
    started = perf_counter()
    try:
        yield
    except ProviderError as exc:
        MEETING_FAILURES.labels(failure_reason(exc)).inc()
        raise
    MEETINGS_CREATED.inc()
    CREATION_SECONDS.observe(perf_counter() - started)
