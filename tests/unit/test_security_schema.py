"""What the schema refuses before running anything: introspection in production, and
operations whose estimated cost is over the limit (the estimate itself is checked here)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from graphql import parse
from strawberry import Schema

from specialistly.api.cost import operation_cost
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
