"""Which database failures are a database briefly unavailable (TRY_AGAIN), and which not."""

from __future__ import annotations

import pytest
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from specialistly.core.errors import ErrorCode, is_transient, try_again


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("127.0.0.1:27018: [Errno 104] Connection reset by peer"),
        NetworkTimeout("timed out"),
        ServerSelectionTimeoutError("No servers found yet"),
        OperationFailure("database is locked (5) (SQLITE_BUSY)", code=1),
        OperationFailure("ERROR: could not serialize access due to concurrent update", code=1),
        OperationFailure("ERROR: deadlock detected (SQLSTATE 40P01)", code=1),
        OperationFailure("FATAL: terminating connection due to administrator command", code=1),
        OperationFailure("WriteConflict", code=112),
        OperationFailure("not primary", code=10107),
    ],
)
def test_a_busy_or_unreachable_database_is_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        DuplicateKeyError("E11000 duplicate key error", code=11000),
        OperationFailure("duplicate key value violates unique constraint", code=1),
        OperationFailure("unknown operator: $foo", code=2),
        ValueError("not a database error"),
    ],
)
def test_other_failures_are_not(error: Exception) -> None:
    assert not is_transient(error)


def test_try_again_is_a_fresh_error_with_its_code() -> None:
    first, second = try_again(), try_again()
    assert first is not second
    assert [p.code for p in first.problems] == [ErrorCode.TRY_AGAIN]
