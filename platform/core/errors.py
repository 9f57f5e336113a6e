"""Expected failures of domain operations, reported to the user field by field.

Every code the platform reports is a member of :class:`ErrorCode`, the one registry; the
API exposes it as the GraphQL enum ``ErrorCode``. A field is the Python path of the wrong
input (``buffer_before``, ``policy.refund_percent``, ``durations.1``); the API turns it
into the client's name. Raise a new :class:`DomainError` each time (never a shared
instance: a raised exception keeps the frames of every raise alive in its traceback).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure


class ErrorCode(StrEnum):
    """Stable machine-readable codes; one per meaning, whatever the operation."""

    # Generic: any operation (and any plugin) may report these.
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    NOT_FOUND = "NOT_FOUND"  # missing, or not visible to the viewer: ids are not probed
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    CONFLICT = "CONFLICT"  # changed meanwhile by someone else; try again
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"  # refused before it ran; ask for less at once
    WEBSOCKET_REQUIRED = "WEBSOCKET_REQUIRED"  # subscriptions are served over WebSocket only
    TRY_AGAIN = "TRY_AGAIN"  # the database was briefly unavailable; send the same request again
    # Accounts and sessions.
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    SLUG_TAKEN = "SLUG_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105 (a code, not a secret)
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105 (a code, not a secret)
    TOKEN_INVALID = "TOKEN_INVALID"  # noqa: S105 (a code, not a secret)
    REFRESH_TOKEN_INVALID = "REFRESH_TOKEN_INVALID"  # noqa: S105 (a code, not a secret)
    LINK_INVALID = "LINK_INVALID"  # an emailed link that is unknown or used already
    LINK_EXPIRED = "LINK_EXPIRED"  # an emailed link past its expiry: ask for a new one
    EMAIL_ALREADY_VERIFIED = "EMAIL_ALREADY_VERIFIED"
    # Services and working hours.
    NOTICE_BEYOND_HORIZON = "NOTICE_BEYOND_HORIZON"
    OVERLAPPING_RANGES = "OVERLAPPING_RANGES"
    # Bookings.
    ARCHIVED = "ARCHIVED"  # off sale for good
    TOO_MANY_ON_SALE = "TOO_MANY_ON_SALE"  # archive a service before publishing another
    NOT_BOOKABLE = "NOT_BOOKABLE"  # the service exists but is not on sale
    SELF_BOOKING = "SELF_BOOKING"
    PAST_SLOT = "PAST_SLOT"
    SLOT_UNAVAILABLE = "SLOT_UNAVAILABLE"
    SLOT_TAKEN = "SLOT_TAKEN"
    DAILY_LIMIT_REACHED = "DAILY_LIMIT_REACHED"
    WEEKLY_LIMIT_REACHED = "WEEKLY_LIMIT_REACHED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    BOOKING_BUSY = "BOOKING_BUSY"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    CANCELLATION_TOO_LATE = "CANCELLATION_TOO_LATE"
    RESCHEDULE_TOO_LATE = "RESCHEDULE_TOO_LATE"
    # The service's video provider cannot make this specialist's meetings now (for Zoom:
    # not connected, grant revoked, or scopes missing): the specialist must act first.
    HOST_NOT_READY = "HOST_NOT_READY"
    NOT_STARTED = "NOT_STARTED"  # only possible once the booking has started
    # Payments.
    PAYMENT_UNAVAILABLE = "PAYMENT_UNAVAILABLE"  # the payment could not be started; try again
    PAYOUTS_NOT_READY = "PAYOUTS_NOT_READY"  # a paid service waits for the specialist's payouts


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request. ``field`` is the input's Python path, or None."""

    code: ErrorCode
    message: str
    field: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", ErrorCode(self.code))  # an unknown code fails here


class DomainError(Exception):
    """An expected failure: bad input, a conflict, a missing permission."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @classmethod
    def of(cls, code: ErrorCode, message: str, field: str | None = None) -> DomainError:
        return cls(Problem(code, message, field))


class Check:
    """Collects problems so that every wrong field of an input is reported at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        self.problems.append(Problem(code, message, field))

    def raise_if_any(self) -> None:
        if self.problems:
            raise DomainError(*self.problems)


def is_duplicate_key(exc: BaseException) -> bool:
    """Whether a write failed on a unique index.

    Inserts report it as DuplicateKeyError; FerretDB v1 on PostgreSQL reports an *update*
    that breaks a unique index as a plain OperationFailure (code 1) carrying PostgreSQL's
    unique-violation message.
    """
    if isinstance(exc, DuplicateKeyError):
        return True
    return isinstance(exc, OperationFailure) and (
        "duplicate key value violates unique constraint" in str(exc)
    )


# What a database answers when it is briefly busy or unreachable, so that the same request
# sent again may well succeed: MongoDB's codes for a primary stepping down, a node shutting
# down and a write conflict; and, through FerretDB, the messages of SQLite's and
# PostgreSQL's busy, serialization, deadlock and lost-connection errors (FerretDB v1 passes
# them on as code 1, with the backend's message).
_TRANSIENT_CODES = frozenset({6, 7, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})
_TRANSIENT_MESSAGES = (
    "database is locked",
    "sqlite_busy",
    "could not serialize access",
    "deadlock detected",
    "terminating connection",
    "connection reset",
    "conn closed",
    "unexpected eof",
    "the database system is",  # ... starting up / shutting down / in recovery mode
    "too many clients",
)


def is_transient(exc: BaseException) -> bool:
    """Whether an operation failed because the database was briefly unavailable.

    Such a failure says nothing of the request: a read may simply be repeated, and a write
    repeated when it is idempotent; otherwise the client is told to send it again
    (:func:`try_again`).
    """
    if isinstance(exc, ConnectionFailure):  # resets, timeouts, no server to select
        return True
    if not isinstance(exc, OperationFailure):
        return False
    if exc.code in _TRANSIENT_CODES or exc.has_error_label("TransientTransactionError"):
        return True
    message = str(exc).lower()
    return any(text in message for text in _TRANSIENT_MESSAGES)


def try_again() -> DomainError:
    """The answer to a change the database interrupted: the request may be sent again as it
    was (with the same idempotency key, for an operation that takes one)."""
    return DomainError.of(
        ErrorCode.TRY_AGAIN, "The service was briefly unavailable; send the request again."
    )
