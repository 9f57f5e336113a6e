"""Expected failures of domain operations, reported to the user field by field."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError, OperationFailure


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request. ``field`` is the input path (``input.email``) or None."""

    code: str
    message: str
    field: str | None = None


class DomainError(Exception):
    """An expected failure: bad input, a conflict, a missing permission."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @classmethod
    def of(cls, code: str, message: str, field: str | None = None) -> DomainError:
        return cls(Problem(code, message, field))


class Check:
    """Collects problems so that every wrong field of an input is reported at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, code: str, message: str, field: str | None = None) -> None:
        self.problems.append(Problem(code, message, field))

    def raise_if_any(self) -> None:
        if self.problems:
            raise DomainError(*self.problems)


NOT_FOUND = "NOT_FOUND"
FORBIDDEN = "FORBIDDEN"
UNAUTHENTICATED = "UNAUTHENTICATED"
INVALID = "INVALID"
TOO_LONG = "TOO_LONG"
REQUIRED = "REQUIRED"


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
