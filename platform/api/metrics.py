"""GraphQL operations by name, type and outcome (see `infra.metrics.registry`).

The outcome is the first of: "unexpected" (an error the client sees only as "Unexpected
error."), the code of an expected failure (a payload's first error, as the error boundary
notes it, or a GraphQL error's `extensions.code`), "invalid" (a document that did not
parse or validate), or "ok". An operation is named by the document's own name for it, or
"anonymous"; a process keeps at most 200 names, later ones count as "other".
"""

from __future__ import annotations

from contextvars import ContextVar
from time import perf_counter

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from specialistly.core.errors import DomainError, ErrorCode
from specialistly.infra.metrics.registry import GRAPHQL_OPERATIONS, Names

# The codes of the expected failures answered in the current operation's payloads.
_noted: ContextVar[list[str] | None] = ContextVar("specialistly_operation_codes", default=None)
_CODES = frozenset(code.value for code in ErrorCode)
_names = Names(limit=200)


def note_failure(code: ErrorCode) -> None:
    """Note that the current operation answered an expected failure in a payload."""
    noted = _noted.get()
    if noted is not None:
        noted.append(code.value)


class OperationTimer:
    """Measures one operation (see `api.operation`): `start` before it runs, `stop` after,
    with the errors as they were before masking. Subscriptions, which last as long as a
    client listens, are not measured."""

    __slots__ = ("_noted", "_started", "_token")

    def start(self) -> None:
        self._started = perf_counter()
        self._noted: list[str] = []
        self._token = _noted.set(self._noted)

    def stop(self, run: ExecutionContext, raised: BaseException | None) -> None:
        seconds = perf_counter() - self._started
        _noted.reset(self._token)
        try:
            kind = run.operation_type
        except Exception:  # no document, or no operation of that name in it
            kind = None
        if kind == OperationType.SUBSCRIPTION:
            return
        errors: list[BaseException] = list(run.result.errors or []) if run.result else []
        if raised is not None:
            errors.append(raised)
        outcome = _outcome(errors, self._noted, parsed=run.graphql_document is not None)
        type_label = kind.value if kind is not None else "unknown"
        GRAPHQL_OPERATIONS.labels(_name(run), type_label, outcome).observe(seconds)


def _name(run: ExecutionContext) -> str:
    document = run.graphql_document
    name = run.operation_name
    if document is None or not name:
        return "anonymous"
    named = {
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    }
    return _names(name) if name in named else "anonymous"


def _outcome(errors: list[BaseException], noted: list[str], *, parsed: bool) -> str:
    codes = []
    for error in errors:
        original = error.original_error if isinstance(error, GraphQLError) else error
        if original is not None and not isinstance(original, (GraphQLError, DomainError)):
            return "unexpected"
        if isinstance(original, DomainError):
            codes.append(original.problems[0].code.value)
        elif isinstance(error, GraphQLError):
            code = (error.extensions or {}).get("code")
            codes.append(code if code in _CODES else "invalid")
    if noted or codes:
        return (noted + codes)[0]
    return "ok" if parsed else "invalid"
