"""How expected failures reach clients, in one place.

Every Query and Mutation root field (the platform's and the plugins') runs inside
:class:`ErrorBoundary`: a resolver simply raises :class:`DomainError`. A mutation whose
payload has ``errors: [UserError!]!`` answers it there, each field path converted to the
client's names; any other field answers a GraphQL error whose ``extensions.code`` is the
first problem's code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.base import has_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from specialistly.api.metrics import note_failure
from specialistly.core.errors import DomainError, ErrorCode

strawberry.enum(
    ErrorCode,
    name="ErrorCode",
    description="Why an operation failed; one code per meaning across the whole API.",
)


@strawberry.type(description="An expected failure: bad input, a conflict, a permission.")
class UserError:
    field: str | None = strawberry.field(description="The input path, e.g. `input.email`.")
    code: ErrorCode = strawberry.field(description="Stable and machine-readable: switch on it.")
    message: str


def client_path(
    path: str | None, arguments: Mapping[str, str], types: Mapping[str, Any] | None = None
) -> str | None:
    """The client's name for a core field path, under the argument it belongs to.

    `arguments` maps the field's Python argument names to their GraphQL names and `types`
    to their Strawberry types. A path starting with an argument's name is that argument's;
    any other lies inside the field's `input` argument when it has one. Each step takes the
    GraphQL name of the input field it names (``buffer_before`` ->
    ``input.bufferBeforeMinutes``), or its camelCase where no type says otherwise.
    """
    if path is None:
        return None
    head, *rest = path.split(".")
    types = types or {}
    if head in arguments:
        return ".".join([arguments[head], *_client_steps(types.get(head), rest)])
    if "input" in arguments:
        return ".".join([arguments["input"], *_client_steps(types.get("input"), [head, *rest])])
    return ".".join(_client_steps(None, [head, *rest]))


def _client_steps(type_: Any, steps: list[str]) -> list[str]:
    names = []
    for step in steps:
        while hasattr(type_, "of_type"):  # Optional and list wrappers
            type_ = type_.of_type
        definition = getattr(type_, "__strawberry_definition__", None)
        fields = definition.fields if definition else ()
        field = next((f for f in fields if f.python_name == step), None)
        if field is not None:
            names.append(field.graphql_name or to_camel_case(step))
            type_ = field.type
        else:
            names.append(to_camel_case(step))
            if not step.isdigit():
                type_ = None
    return names


def graphql_error(error: DomainError) -> GraphQLError:
    """For fields without a payload: the first problem as a GraphQL error with a code."""
    first = error.problems[0]
    return GraphQLError(first.message, extensions={"code": first.code.value})


class ErrorBoundary(FieldExtension):
    """Turns a DomainError raised by a root field's resolver into its answer."""

    def apply(self, field: StrawberryField) -> None:
        self._arguments = {
            a.python_name: a.graphql_name or to_camel_case(a.python_name) for a in field.arguments
        }
        self._types = {a.python_name: a.type for a in field.arguments}
        payload = field.type
        self._payload: Callable[..., Any] | None = None
        if has_object_definition(payload) and any(
            f.python_name == "errors" for f in payload.__strawberry_definition__.fields
        ):
            self._payload = payload

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Any, Any], **kwargs: Any
    ) -> Any:
        try:
            return next_(source, info, **kwargs)
        except DomainError as error:
            return self._answer(error)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except DomainError as error:
            return self._answer(error)

    def _answer(self, error: DomainError) -> Any:
        if self._payload is None:
            raise graphql_error(error) from None
        note_failure(error.problems[0].code)
        return self._payload(errors=user_errors(error, self._arguments, self._types))


def user_errors(
    error: DomainError, arguments: Mapping[str, str], types: Mapping[str, Any] | None = None
) -> list[UserError]:
    return [
        UserError(field=client_path(p.field, arguments, types), code=p.code, message=p.message)
        for p in error.problems
    ]
