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
_FULL_PATH = object()  # what `_read` answers when graphql-core's own path must decide


def _read(plain: _Plain, source: Any) -> Any:
    """The attribute's serialised value, or _FULL_PATH for anything out of the ordinary."""
    resolve, leaf, required = plain
    value = resolve(source, None)
    if value is None:
        return _FULL_PATH if required else None
    if inspect.isawaitable(value):
        return _FULL_PATH
    try:
        coerced = leaf.coerce_output_value(value)
    except Exception:
        return _FULL_PATH
    return _FULL_PATH if coerced is None or coerced is Undefined else coerced


class PlainFieldsExecution(StrawberryGraphQLCoreExecutionContext):
    """Resolves plain scalar attributes without graphql-core's per-field machinery, and an
    object whose selection is only such attributes in one pass."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain: dict[tuple[str, str], _Plain | None] = {}
        # Per selection (graphql-core reuses one for every item of a list), kept with it so
        # that its id cannot be reused by another while known here.
        self._objects: dict[tuple[str, int], tuple[object, list[tuple[str, _Plain]] | None]] = {}
        # strawberry always passes a manager, empty unless an extension resolves fields.
        manager = self.middleware_manager
        self._bare = manager is None or not manager.middlewares

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        fields = self._plain_selection(parent_type, grouped_field_set) if self._bare else None
        if fields is not None:
            results: dict[str, Any] = {}
            for response_name, plain in fields:
                value = _read(plain, source_value)
                if value is _FULL_PATH:
                    break
                results[response_name] = value
            else:
                return results
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

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
                value = _read(plain, source)
                if value is not _FULL_PATH:
                    return value
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _plain_selection(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> list[tuple[str, _Plain]] | None:
        """The selection's fields if every one is a plain attribute, else None."""
        key = (parent_type.name, id(grouped_field_set))
        known = self._objects.get(key)
        if known is not None and known[0] is grouped_field_set:
            return known[1]
        fields: list[tuple[str, _Plain]] | None = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            field_key = (parent_type.name, node.name.value)
            plain = (
                None
                if node.arguments
                else self._plain[field_key]
                if field_key in self._plain
                else self._find_plain(*field_key)
            )
            if plain is None or fields is None:
                fields = None
                break
            fields.append((response_name, plain))
        self._objects[key] = (grouped_field_set, fields)
        return fields

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
