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

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionResult

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


def operation_for(limits: DocumentLimits) -> Callable[[], Operation]:
    """The factory strawberry calls for each request."""
    return lambda: Operation(limits)
