"""GraphQL execution with a short path for plain attributes.

graphql-core resolves every field of every object the same way: it builds a resolve info,
looks for arguments, calls the resolver, then completes the value. For a scalar field
that only reads an attribute (a strawberry field without resolver, extensions or
arguments) that is most of the cost of a long list of small objects, such as the slots of
a month. Such a field is read and serialised here directly, so is an object-valued
attribute whose selection is only such fields (the local times of a slot); a list of
objects whose selection is only such fields is completed in one loop, and so is a list of
scalars (the starts of a day). Anything out of the ordinary (null, a value that does not
serialise, an awaitable) takes graphql-core's own path, which reads it again and answers
exactly as it always did, errors included.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# strawberry's resolver of a field that has no resolver, extensions or error handlers: it
# reads the attribute and ignores the resolve info (strawberry/schema/schema_converter.py).
_PLAIN_RESOLVER = "_get_basic_result"

# Reads the attribute (given the source), the field's type, and whether it is non-null.
_Plain = tuple[Callable[[Any], Any], GraphQLLeafType, bool]
_FULL_PATH = object()  # what `_read` answers when graphql-core's own path must decide
# Values that cannot be awaitable: the common ones skip that (comparatively slow) check.
_NEVER_AWAITABLE = frozenset({str, int, float, bool, datetime, date})


class _Nested:
    """An attribute holding an object whose selection is only plain fields."""

    __slots__ = ("fields", "read", "required")

    def __init__(
        self, read: Callable[[Any], Any], required: bool, fields: list[tuple[str, _Field]]
    ) -> None:
        self.read = read
        self.required = required
        self.fields = fields

    def complete(self, source: Any) -> Any:
        value = self.read(source)
        if value is None:
            return _FULL_PATH if self.required else None
        if inspect.isawaitable(value):
            return _FULL_PATH
        return _complete(self.fields, value)


_Field = _Plain | _Nested


def _complete(fields: list[tuple[str, _Field]], source: Any) -> Any:
    """The object's completed selection, or _FULL_PATH."""
    row: dict[str, Any] = {}
    for response_name, field in fields:
        value = field.complete(source) if isinstance(field, _Nested) else _read(field, source)
        if value is _FULL_PATH:
            return _FULL_PATH
        row[response_name] = value
    return row


def _read(plain: _Plain, source: Any) -> Any:
    """The attribute's serialised value, or _FULL_PATH for anything out of the ordinary."""
    read, leaf, required = plain
    return _serialised(read(source), leaf, required)


def _serialised(value: Any, leaf: GraphQLLeafType, required: bool) -> Any:
    """A scalar's serialised value, or _FULL_PATH for anything out of the ordinary."""
    if value is None:
        return _FULL_PATH if required else None
    if value.__class__ not in _NEVER_AWAITABLE and inspect.isawaitable(value):
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
        self._objects: dict[tuple[str, int], tuple[object, list[tuple[str, _Field]] | None]] = {}
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
            results = _complete(fields, source_value)
            if results is not _FULL_PATH:
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

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        if self._bare and isinstance(items, list | tuple):
            completed = (
                _leaf_items(item_type, items)
                if is_leaf_type(get_nullable_type(item_type))
                and not any(details.node.directives for details in field_details_list)  # @stream
                else self._plain_items(item_type, field_details_list, items)
            )
            if completed is not None:
                return completed
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    def _plain_items(
        self, item_type: GraphQLOutputType, field_details_list: Any, items: list[Any] | tuple[Any]
    ) -> list[Any] | None:
        """The completed items of a list of objects whose selection is only plain
        attributes, or None when one of them needs graphql-core's own path (which then
        completes the whole list again)."""
        object_type = get_nullable_type(item_type)
        if (
            not isinstance(object_type, GraphQLObjectType)
            or object_type.is_type_of is not None
            or any(details.node.directives for details in field_details_list)  # @stream
        ):
            return None
        grouped_field_set, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        fields = None if defer_usages else self._plain_selection(object_type, grouped_field_set)
        if fields is None:
            return None
        required = is_non_null_type(item_type)
        completed: list[Any] = []
        for item in items:
            if item is None:
                if required:
                    return None  # graphql-core's path reports the error
                completed.append(None)
                continue
            row = _complete(fields, item)
            if row is _FULL_PATH:
                return None
            completed.append(row)
        return completed

    def _plain_selection(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> list[tuple[str, _Field]] | None:
        """The selection's fields if every one is a plain attribute (or an object of plain
        attributes), else None."""
        key = (parent_type.name, id(grouped_field_set))
        known = self._objects.get(key)
        if known is not None and known[0] is grouped_field_set:
            return known[1]
        fields: list[tuple[str, _Field]] | None = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            field_key = (parent_type.name, node.name.value)
            field: _Field | None = (
                None
                if node.arguments
                else self._plain[field_key]
                if field_key in self._plain
                else self._find_plain(*field_key)
            )
            if field is None and not node.arguments:
                field = self._find_nested(parent_type, node.name.value, field_details_list)
            if field is None or fields is None:
                fields = None
                break
            fields.append((response_name, field))
        self._objects[key] = (grouped_field_set, fields)
        return fields

    def _find_nested(
        self, parent_type: GraphQLObjectType, field_name: str, field_details_list: Any
    ) -> _Nested | None:
        field = parent_type.fields.get(field_name)
        if (
            field is None
            or field.args
            or field.resolve is None
            or field.resolve.__name__ != _PLAIN_RESOLVER
            or any(details.node.directives for details in field_details_list)
        ):
            return None
        object_type = get_nullable_type(field.type)
        if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of is not None:
            return None
        grouped_field_set, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        fields = None if defer_usages else self._plain_selection(object_type, grouped_field_set)
        if fields is None:
            return None
        return _Nested(_reader(field), is_non_null_type(field.type), fields)

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
                plain = (_reader(field), leaf, is_non_null_type(field.type))
        self._plain[(type_name, field_name)] = plain
        return plain


def _leaf_items(item_type: GraphQLOutputType, items: list[Any] | tuple[Any]) -> list[Any] | None:
    """The serialised items of a list of scalars (the starts of a day), or None when one
    of them needs graphql-core's own path (which then completes the whole list again)."""
    leaf = get_nullable_type(item_type)
    assert is_leaf_type(leaf)
    if any(item.__class__ not in _NEVER_AWAITABLE for item in items):
        return _each_leaf(items, leaf, is_non_null_type(item_type))
    # None of them is null or awaitable: only the serialisation may refuse one.
    coerce = leaf.coerce_output_value
    try:
        completed = [coerce(item) for item in items]
    except Exception:
        return None
    if any(value is None or value is Undefined for value in completed):
        return None
    return completed


def _each_leaf(items: Iterable[Any], leaf: GraphQLLeafType, required: bool) -> list[Any] | None:
    completed: list[Any] = []
    for item in items:
        value = _serialised(item, leaf, required)
        if value is _FULL_PATH:
            return None
        completed.append(value)
    return completed


def _reader(field: GraphQLField) -> Callable[[Any], Any]:
    """What reads a plain field from its source: the attribute itself when strawberry's
    resolver would only call `getattr` (its default resolver), else that resolver."""
    resolve = field.resolve
    assert resolve is not None
    definition = (field.extensions or {}).get("strawberry-definition")
    if getattr(definition, "default_resolver", None) is getattr:
        return attrgetter(definition.python_name)  # type: ignore[union-attr]
    return lambda source: resolve(source, None)
