"""What a GraphQL operation may cost, estimated from its text and variables before it runs.

Each object the answer could hold costs 1 and scalars are free; a list multiplies the cost
of its items by its expected length: the field's own estimate where it declares one (the
`slots` of a window count every start the window can hold), `first` for the edges and
nodes of a connection, and `DEFAULT_LIST_LENGTH` otherwise. Every alias and every branch
of a fragment is counted, so the estimate is an upper bound of the work, not a guess at it.

A field declares its estimate in its strawberry metadata, as a function of its arguments
(GraphQL names, coerced values) returning the longest list it can answer:

    @strawberry.field(metadata={LIST_LENGTH: lambda args: args["limit"]})
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_leaf_type,
    is_list_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.type import SchemaMetaFieldDef, TypeMetaFieldDef

from specialistly.core.errors import ErrorCode

LIST_LENGTH = "specialistly.list_length"
DEFAULT_LIST_LENGTH = 10

ListLength = Callable[[Mapping[str, Any]], int]


class OperationCosts:
    """The costs of the operations last asked for, each known by its text, operation name
    and variables (the only things its estimate depends on, with the schema: one instance
    serves one schema): clients send the same few over and over. At most `size` are kept,
    the least recently asked for leaving first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._known: OrderedDict[tuple[str, str | None, str], int] = OrderedDict()

    def of(
        self,
        schema: GraphQLSchema,
        text: str | None,
        document: DocumentNode,
        operation_name: str | None,
        variables: dict[str, Any],
    ) -> int:
        """The cost of the operation of `document`, which is `text` parsed (None: a
        document given without its text, estimated every time)."""
        try:
            # Exact: unlike equality of values, JSON tells true from 1 and 1.0 from 1.
            shape = json.dumps(variables, sort_keys=True)
        except (TypeError, ValueError):  # not JSON (only a Python caller can send that)
            text = None
        if text is None:
            return operation_cost(schema, document, operation_name, variables)
        key = (text, operation_name, shape)
        known = self._known.get(key)
        if known is not None:
            self._known.move_to_end(key)
            return known
        cost = operation_cost(schema, document, operation_name, variables)
        self._known[key] = cost
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return cost


def too_costly(cost: int, max_cost: int) -> GraphQLError:
    return GraphQLError(
        f"This operation could cost {cost}, more than the {max_cost} allowed: ask for less"
        " at once (fewer aliases, a smaller `first`, shorter slot windows).",
        extensions={
            "code": ErrorCode.QUERY_TOO_COSTLY.value,
            "cost": cost,
            "maxCost": max_cost,
        },
    )


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any],
) -> int:
    """The estimated cost of the operation to run; 0 when it cannot run at all (execution
    then reports why)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    root = schema.get_root_type(operation.operation)
    if isinstance(coerced, list) or root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _Estimate(schema, fragments, coerced).selections(
        operation.selection_set, root, page=None, spread=frozenset()
    )


class _Estimate:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        *,
        page: int | None,
        spread: frozenset[str],
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page=page, spread=spread)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(
                    selection.selection_set, on or parent, page=page, spread=spread
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:
                    continue
                on = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selections(
                    fragment.selection_set, on or parent, page=page, spread=spread | {name}
                )
        return total

    def field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType,
        *,
        page: int | None,
        spread: frozenset[str],
    ) -> int:
        definition = self._definition(parent, node.name.value)
        if definition is None or is_leaf_type(get_named_type(definition.type)):
            return 0
        try:
            args = get_argument_values(definition, node, self.variables)
        except GraphQLError:
            args = {}
        length = 1
        if is_list_type(get_nullable_type(definition.type)):
            length = self._list_length(definition, args, page)
        first = args.get("first")
        inner = 0
        if node.selection_set is not None:
            inner = self.selections(
                node.selection_set,
                get_named_type(definition.type),
                page=first if isinstance(first, int) else None,
                spread=spread,
            )
        return length * (1 + inner)

    def _definition(self, parent: GraphQLNamedType, name: str) -> GraphQLField | None:
        if parent is self.schema.query_type and name == "__schema":
            return SchemaMetaFieldDef
        if parent is self.schema.query_type and name == "__type":
            return TypeMetaFieldDef
        if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            found: GraphQLField | None = parent.fields.get(name)
            return found
        return None  # __typename, or a field of a union (only reached through a fragment)

    @staticmethod
    def _list_length(definition: GraphQLField, args: Mapping[str, Any], page: int | None) -> int:
        strawberry_field = (definition.extensions or {}).get("strawberry-definition")
        declared: ListLength | None = getattr(strawberry_field, "metadata", {}).get(LIST_LENGTH)
        if declared is not None:
            length = declared(args)
        elif page is not None:
            length = page
        else:
            length = DEFAULT_LIST_LENGTH
        return max(0, length)  # a negative `first` must not pay for the rest of the query
