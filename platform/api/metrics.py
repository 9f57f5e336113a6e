"""GraphQL operations by name, type and outcome (see `infra.metrics.registry`).

The outcome is the first of: "unexpected" (an error the client sees only as "Unexpected
error."), the code of an expected failure (a payload's first error, as the error boundary
notes it, or a GraphQL error's `extensions.code`), "invalid" (a document that did not
parse or validate), or "ok". An operation is named by the document's own name for it, or
"anonymous"; a process keeps at most 200 names, later ones count as "other".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from time import perf_counter

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
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


class OperationMetrics(SchemaExtension):
    """Measures each query and mutation; subscriptions, which last as long as a client
    listens, are not measured. Listed after MaskErrors, so it sees the original errors."""

    def on_operation(self) -> Iterator[None]:
        started = perf_counter()
        noted: list[str] = []
        token = _noted.set(noted)
        raised: BaseException | None = None
        try:
            yield
        except BaseException as error:
            raised = error
            raise
        finally:
            _noted.reset(token)
            self._record(perf_counter() - started, noted, raised)

    def _record(self, seconds: float, noted: list[str], raised: BaseException | None) -> None:
        run = self.execution_context
        try:
            kind = run.operation_type
        except Exception:  # no document, or no operation of that name in it
            kind = None
        if kind == OperationType.SUBSCRIPTION:
            return
        errors: list[BaseException] = list(run.result.errors or []) if run.result else []
        if raised is not None:
            errors.append(raised)
        outcome = _outcome(errors, noted, parsed=run.graphql_document is not None)
        type_label = kind.value if kind is not None else "unknown"
        GRAPHQL_OPERATIONS.labels(self._name(), type_label, outcome).observe(seconds)

    def _name(self) -> str:
        run = self.execution_context
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
