"""Recognising a unique-index violation, however the database reports it."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError, OperationFailure

from specialistly.core.errors import is_duplicate_key

# What FerretDB v1 on PostgreSQL answers to an update that breaks a unique index.
POSTGRESQL_UPDATE = (
    "[msg_update.go:133 handler.(*Handler).updateDocument] [update.go:114 common.UpdateDocument]"
    " [collection.go:227 postgresql.(*collection).UpdateAll] ERROR: duplicate key value"
    ' violates unique constraint "profiles_5b5a1f2c_slug___1d6b7f7e_idx" (SQLSTATE 23505)'
)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (DuplicateKeyError("E11000 duplicate key error collection: db.users", 11000), True),
        (OperationFailure(POSTGRESQL_UPDATE, 1, {"codeName": "InternalError"}), True),
        (OperationFailure("Index option is not implemented yet", 238), False),
        (OperationFailure("ERROR: deadlock detected (SQLSTATE 40P01)", 1), False),
        (ValueError("duplicate key value violates unique constraint"), False),
    ],
)
def test_is_duplicate_key(exc: BaseException, expected: bool) -> None:
    assert is_duplicate_key(exc) is expected
