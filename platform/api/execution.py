"""GraphQL execution with a short path for plain attributes.

graphql-core resolves every field of every object the same way: it builds a resolve info,
looks for arguments, calls the resolver, then completes the value. For a scalar field
that only reads an attribute (a strawberry field without resolver, extensions or
arguments) that is most of the cost of a long list of small objects, such as the slots of
a month. Such a field is read and serialised here directly; anything out of the ordinary
(null, a value that does not serialise, an awaitable) takes graphql-core's own path, which
reads it again and answers exactly as it always did, errors included.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# strawberry's resolver of a field that has no resolver, extensions or error handlers: it
# reads the attribute and ignores the resolve info (strawberry/schema/schema_converter.py).
_PLAIN_RESOLVER = "_get_basic_result"

_Plain = tuple[Callable[..., Any], GraphQLLeafType, bool]


class PlainFieldsExecution(StrawberryGraphQLCoreExecutionContext):
    """Resolves plain scalar attributes without graphql-core's per-field machinery."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain: dict[tuple[str, str], _Plain | None] = {}
        # strawberry always passes a manager, empty unless an extension resolves fields.
        manager = self.middleware_manager
        self._bare = manager is None or not manager.middlewares

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        if self._bare and not node.arguments:
            key = (parent_type.name, node.name.value)
            plain = self._plain[key] if key in self._plain else self._find_plain(*key)
            if plain is not None:
                resolve, leaf, required = plain
                value = resolve(source, None)
                if value is None and not required:
                    return None
                if value is not None and not inspect.isawaitable(value):
                    try:
                        coerced = leaf.coerce_output_value(value)
                    except Exception:  # noqa: S110 - the full path below reports it
                        pass
                    else:
                        if coerced is not None and coerced is not Undefined:
                            return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _find_plain(self, type_name: str, field_name: str) -> _Plain | None:
        parent = self.schema.get_type(type_name)
        field: GraphQLField | None = (
            parent.fields.get(field_name) if isinstance(parent, GraphQLObjectType) else None
        )
        plain: _Plain | None = None
        if (
            field is not None
            and not field.args
            and field.resolve is not None
            and field.resolve.__name__ == _PLAIN_RESOLVER
        ):
            leaf = get_nullable_type(field.type)
            if is_leaf_type(leaf):
                plain = (field.resolve, leaf, is_non_null_type(field.type))
        self._plain[(type_name, field_name)] = plain
        return plain
