"""Assembling one GraphQL schema from the contributions of the platform and its plugins."""

from __future__ import annotations

import copy
from collections.abc import Callable

from graphql import GraphQLError
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.field import StrawberryField

from specialistly.api.documents import DocumentLimits
from specialistly.api.errors import ErrorBoundary
from specialistly.api.execution import PlainFieldsExecution
from specialistly.api.operation import Operation, OperationRunner, is_unexpected, operation_for
from specialistly.hookspecs import GraphQLContribution
from specialistly.plugin_system.manager import PluginError, PluginManager
from specialistly.settings import Settings


def build_schema(plugins: PluginManager, settings: Settings) -> Schema:
    # Merged in registration order, not call order: the platform's own fields come first in
    # the SDL, and adding a plugin does not reorder what was there.
    registered = list(plugins.infos)
    contributions: list[tuple[str, GraphQLContribution]] = sorted(
        plugins.collect("graphql_contribution"), key=lambda c: registered.index(c[0])
    )
    query = _with_boundary(_merge("Query", [(n, c.query) for n, c in contributions]), reads=True)
    mutation = _with_boundary(_merge("Mutation", [(n, c.mutation) for n, c in contributions]))
    subscription = _merge("Subscription", [(n, c.subscription) for n, c in contributions])
    if query is None:
        raise PluginError("no plugin contributes a Query type")
    # A factory, so that no extension instance is shared by two requests.
    extensions: list[Callable[[], SchemaExtension]] = [operation_for(DocumentLimits.of(settings))]
    return _Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=[t for _, c in contributions for t in c.types],
        extensions=extensions,
        execution_context_class=PlainFieldsExecution,
    )


class _Schema(Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        if len(extensions) == 1 and isinstance(extensions[0], Operation):
            return OperationRunner(execution_context, extensions[0])
        return super().create_extensions_runner(execution_context, extensions)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log only the unexpected errors; expected ones are answers, not incidents."""
        unexpected = [e for e in errors if is_unexpected(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def _merge(name: str, parts: list[tuple[str, type | None]]) -> type | None:
    """strawberry's merge_types, but a field defined twice is an error naming both plugins."""
    owners: dict[str, str] = {}
    types = []
    for plugin, cls in parts:
        if cls is None:
            continue
        for field in cls.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            if field.name in owners:
                raise PluginError(
                    f"{name}.{field.name} is defined by both plugin {owners[field.name]!r}"
                    f" and plugin {plugin!r}"
                )
            owners[field.name] = plugin
        types.append(cls)
    return merge_types(name, tuple(types)) if types else None


def _with_boundary(root: type | None, *, reads: bool = False) -> type | None:
    """The merged root type with every resolved field inside the one error boundary.

    The fields are copied first: the originals belong to the plugins' classes, which every
    schema built in this process shares.
    """
    if root is not None:
        definition = root.__strawberry_definition__  # type: ignore[attr-defined]
        definition.fields = [_bounded(field, reads=reads) for field in definition.fields]
    return root


def _bounded(field: StrawberryField, *, reads: bool) -> StrawberryField:
    if field.base_resolver is None:
        return field
    bounded = copy.copy(field)
    # last: outermost, around other extensions
    bounded.extensions.append(ErrorBoundary(reads=reads))
    return bounded
