"""What the schema refuses before running anything: introspection in production, and
operations whose estimated cost is over the limit (the estimate itself is checked here)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from graphql import parse
from strawberry import Schema

from specialistly.api import cost as cost_module
from specialistly.api.cost import OperationCosts, operation_cost
from specialistly.api.schema import build_schema
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.settings import Settings
from tests.schema_context import offline_context

INTROSPECTION = "{ __schema { queryType { name } } }"


def schema_for(**values: Any) -> Schema:
    settings = Settings.model_validate(
        {"plugins_extra": [], "jwt_secret": secrets.token_urlsafe(32), **values}
    )
    return build_schema(create_plugin_manager(settings), settings)


@pytest.mark.parametrize(
    ("values", "allowed"),
    [
        ({"environment": "production"}, False),
        ({"environment": "production", "graphql_introspection": True}, True),
        ({"environment": "development"}, True),
        ({"environment": "test"}, True),
        ({"environment": "development", "graphql_introspection": False}, False),
    ],
)
async def test_introspection_is_off_in_production_unless_asked_for(
    values: dict[str, Any], allowed: bool
) -> None:
    result = await schema_for(**values).execute(INTROSPECTION, context_value=offline_context())
    if allowed:
        assert result.errors is None
        assert result.data == {"__schema": {"queryType": {"name": "Query"}}}
    else:
        assert result.errors
        assert "introspection" in result.errors[0].message.lower()
        # __typename is not introspection of the schema: clients keep using it.
        assert (
            await schema_for(**values).execute("{ __typename }", context_value=offline_context())
        ).errors is None


SCHEMA = schema_for(environment="test")


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    core = SCHEMA._schema
    return operation_cost(core, parse(query), None, variables or {})


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ me { id displayName } }", 1),
        ("{ __typename me { id } }", 1),
        # A page of 50 bookings, each with its service: 1 + 50 * (1 + 1).
        ("{ myBookings(first: 50) { totalCount nodes { id service { id } } } }", 101),
        ("{ myBookings { nodes { id } } }", 21),  # the default page size, 20
        ("{ a: me { id } b: me { id } ... on Query { c: me { id } } }", 3),
        ("query { ...F } fragment F on Query { me { id } }", 1),
        # One slot every five minutes for a day: 288.
        (
            '{ slots(serviceId: "x", from: "2030-01-01T00:00:00Z", to: "2030-01-02T00:00:00Z")'
            " { start } }",
            288,
        ),
        # A window longer than allowed (the resolver refuses it) counts as the longest one.
        (
            '{ slots(serviceId: "x", from: "2030-01-01T00:00:00Z", to: "2031-01-01T00:00:00Z")'
            " { start } }",
            62 * 288,
        ),
        ("{ myBookings(first: -5) { nodes { id } } }", 1),
        # The days' lists of starts count like slots: every five-minute start once.
        (
            '{ slotsByDay(serviceId: "x", from: "2030-01-01T00:00:00Z",'
            ' to: "2030-01-02T00:00:00Z", timezone: "UTC") { date starts times } }',
            288,
        ),
        (
            '{ a: slotsByDay(serviceId: "x", from: "2030-01-01T00:00:00Z",'
            ' to: "2030-03-04T00:00:00Z", timezone: "UTC") { starts }'
            ' b: slotsByDay(serviceId: "x", from: "2030-01-01T00:00:00Z",'
            ' to: "2030-03-04T00:00:00Z", timezone: "UTC") { starts } }',
            2 * 62 * 288,
        ),
        # Every service a page can show, each with its first slots: 1 + 20 * (1 + 5).
        ('{ specialist(slug: "x") { offers { nextSlots { start } } } }', 121),
    ],
)
def test_the_cost_of_an_operation(query: str, expected: int) -> None:
    assert cost(query) == expected


def test_variables_are_read_for_the_cost() -> None:
    query = (
        "query Q($from: DateTime!, $to: DateTime!, $n: Int!) {"
        ' slots(serviceId: "x", from: $from, to: $to) { start }'
        " myBookings(first: $n) { nodes { id } } }"
    )
    window = {"from": "2030-01-01T00:00:00Z", "to": "2030-01-01T01:00:00Z"}
    assert cost(query, {**window, "n": 10}) == 12 + 1 + 10
    assert cost(query, {**window, "n": "not a number"}) == 0  # execution reports it


def test_a_known_cost_is_only_reused_for_the_same_text_name_and_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    estimated: list[dict[str, Any]] = []

    def counted(schema: Any, document: Any, name: Any, variables: dict[str, Any]) -> int:
        estimated.append(variables)
        return operation_cost(schema, document, name, variables)

    monkeypatch.setattr(cost_module, "operation_cost", counted)
    costs = OperationCosts(size=2)
    text = "query Q($n: Int!) { myBookings(first: $n) { nodes { id } } }"
    document = parse(text)

    def of(variables: dict[str, Any], name: str | None = None, query: str = text) -> int:
        return costs.of(SCHEMA._schema, query, document, name, variables)

    assert of({"n": 10}) == 11
    assert of({"n": 10}) == 11 and len(estimated) == 1  # known
    assert of({"n": 30}) == 31
    assert of({"n": True}) == 0  # not an Int: not the cost of {"n": 1}
    assert of({"n": 1}) == 2
    assert of({"n": 1}, "Q") == 2 and len(estimated) == 5  # another operation name
    assert of({"n": 10}) == 11 and len(estimated) == 6  # forgotten: two are kept
    other = "query Q($n: Int!) { myBookings(first: $n) { totalCount nodes { id } } }"
    assert costs.of(SCHEMA._schema, other, parse(other), None, {"n": 10}) == 11
    assert len(estimated) == 7
    assert costs.of(SCHEMA._schema, None, document, None, {"n": 10}) == 11
    assert len(estimated) == 8  # no text: nothing to know it by


async def test_the_cost_limit_applies_to_each_request_of_the_same_text() -> None:
    schema = schema_for(environment="test", graphql_max_cost=40)
    query = "query Q($n: Int!) { myBookings(first: $n) { nodes { id } } }"
    for n, refused in ((10, False), (50, True), (10, False), (50, True)):
        result = await schema.execute(
            query, variable_values={"n": n}, context_value=offline_context()
        )
        codes = [(e.extensions or {}).get("code") for e in result.errors or []]
        assert ("QUERY_TOO_COSTLY" in codes) is refused, (n, codes)
