"""Everything the platform does around one GraphQL operation, as one schema extension.

In order: the document rules (`api.documents`: tokens, cached parse and validation,
depth, aliases, introspection, then cost and subscriptions over HTTP before execution);
the execution in a unit of work of the runtime, so its events are published before the
answer leaves; the operation measured (`api.metrics`) with its errors as they were; then
the unexpected errors masked. One extension rather than one per concern: strawberry
prepares every extension's hooks for every request, which cost more than the concerns
themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext, ExecutionResult

from specialistly.api import documents
from specialistly.api.documents import DocumentLimits
from specialistly.api.metrics import OperationTimer
from specialistly.core.errors import DomainError, is_transient, try_again
from specialistly.runtime import Runtime


def is_unexpected(error: GraphQLError) -> bool:
    """An error the client sees only as "Unexpected error." (or TRY_AGAIN)."""
    original = error.original_error
    return original is not None and not isinstance(original, (GraphQLError, DomainError))


class Operation(MaskErrors):
    """The concerns above for one request (a new instance for each: see `operation_for`)."""

    def __init__(self, limits: DocumentLimits) -> None:
        super().__init__(should_mask_error=is_unexpected)
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        run = self.execution_context
        self._stream_result_processed = False
        documents.prepare(run, self.limits)
        timer = OperationTimer()
        timer.start()
        raised: BaseException | None = None
        try:
            yield
        except BaseException as error:
            raised = error
            raise
        finally:
            timer.stop(run, raised)
        # A stream's results were masked one by one as they left (MaskErrors.on_stream_result).
        if not self._stream_result_processed:
            result = run.result
            if isinstance(result, (GraphQLExecutionResult, ExecutionResult)):
                self._process_result(result)
            elif initial_result := getattr(result, "initial_result", None):
                self._process_result(initial_result)

    def on_parse(self) -> Iterator[None]:
        documents.parse(self.execution_context)
        yield

    def on_validate(self) -> Iterator[None]:
        documents.validate(self.execution_context)
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        run = self.execution_context
        runtime: Runtime = run.context.runtime
        async with runtime.unit_of_work():
            documents.check(run, self.limits)
            yield

    def _process_result(self, result: object) -> None:
        # MaskErrors checks `result` against a runtime Protocol, slow for what it asks.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        """ "Unexpected error." for the unexpected, but TRY_AGAIN for a database that was
        briefly unavailable (in a nested field, which the root fields' boundary does not
        see)."""
        masked = super().anonymise_error(error)
        if error.original_error is None or not is_transient(error.original_error):
            return masked
        problem = try_again().problems[0]
        return GraphQLError(
            problem.message,
            nodes=masked.nodes,
            source=masked.source,
            positions=masked.positions,
            path=masked.path,
            extensions={"code": problem.code.value},
        )


# Each hook made a context manager once, here, rather than for every request.
_operation = contextmanager(Operation.on_operation)
_parsing = contextmanager(Operation.on_parse)
_validation = contextmanager(Operation.on_validate)
_executing = asynccontextmanager(Operation.on_execute)


class OperationRunner(SchemaExtensionsRunner):
    """strawberry's runner of extension hooks, for the one Operation extension: its hooks
    are entered directly. strawberry's own runner finds every extension's hooks and wraps
    each in a new context manager for every request, which costs more than the hooks."""

    def __init__(self, execution_context: ExecutionContext, extension: Operation) -> None:
        super().__init__(execution_context, [extension])
        self.extension = extension

    def operation(self) -> _Either:  # type: ignore[override]
        return _Either(_operation(self.extension))

    def parsing(self) -> _Either:  # type: ignore[override]
        return _Either(_parsing(self.extension))

    def validation(self) -> _Either:  # type: ignore[override]
        return _Either(_validation(self.extension))

    def executing(self) -> AbstractAsyncContextManager[None]:  # type: ignore[override]
        return _executing(self.extension)


class _Either:
    """A hook's context manager, entered with `with` or `async with` as strawberry does."""

    __slots__ = ("_hook",)

    def __init__(self, hook: AbstractContextManager[None]) -> None:
        self._hook = hook

    def __enter__(self) -> None:
        self._hook.__enter__()

    def __exit__(self, *exc: Any) -> bool | None:
        return self._hook.__exit__(*exc)

    async def __aenter__(self) -> None:
        self._hook.__enter__()

    async def __aexit__(self, *exc: Any) -> bool | None:
        return self._hook.__exit__(*exc)


def operation_for(limits: DocumentLimits) -> Callable[[], Operation]:
    """The factory strawberry calls for each request."""
    return lambda: Operation(limits)
