"""The one error boundary: DomainErrors of root fields become payload errors or coded
GraphQL errors, for the platform's fields and a plugin's alike."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry import Schema
from strawberry.types.base import StrawberryObjectDefinition

from specialistly.api.errors import ErrorBoundary, client_path
from specialistly.api.schema import build_schema
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.settings import Settings
from tests.plugins import failing_fields
from tests.schema_context import offline_context

PLUGIN = "tests.plugins.failing_fields"


@pytest.mark.parametrize(
    ("path", "arguments", "expected"),
    [
        (None, {"input": "input"}, None),
        ("buffer_before", {"input": "input"}, "input.bufferBefore"),
        ("policy.refund_percent", {"input": "input"}, "input.policy.refundPercent"),
        ("days.0.ranges.1.start", {"input": "input"}, "input.days.0.ranges.1.start"),
        ("id", {"id": "id", "input": "input"}, "id"),  # an argument of its own
        ("new_start", {"id": "id", "new_start": "newStart"}, "newStart"),
        ("from_", {"from_": "from"}, "from"),  # the argument's GraphQL name wins
        ("refresh_token", {}, "refreshToken"),
    ],
)
def test_core_paths_become_client_names(
    path: str | None, arguments: dict[str, str], expected: str | None
) -> None:
    assert client_path(path, arguments) == expected


@pytest.fixture(scope="module")
def schema() -> Schema:
    settings = Settings.model_validate({"plugins_extra": [PLUGIN]})
    return build_schema(create_plugin_manager(settings), settings)


async def run(schema: Schema, query: str) -> tuple[dict[str, Any] | None, list[Any]]:
    result = await schema.execute(query, context_value=offline_context())
    return result.data, [(e.message, e.extensions) for e in result.errors or []]


async def test_a_plugin_mutation_answers_in_its_payload(schema: Schema) -> None:
    data, errors = await run(
        schema,
        'mutation { echo(key: "k", input: {fail: true}) { ok errors { field code message } } }',
    )
    assert errors == []
    assert data == {
        "echo": {
            "ok": False,
            "errors": [
                {
                    "field": "input.policy.refundPercent",
                    "code": "INVALID",
                    "message": "Out of range.",
                },
                {"field": "key", "code": "REQUIRED", "message": "Give a key."},
                {"field": None, "code": "FORBIDDEN", "message": "Not yours."},
            ],
        }
    }
    data, _ = await run(
        schema, 'mutation { echo(key: "k", input: {fail: false}) { ok errors { code } } }'
    )
    assert data == {"echo": {"ok": True, "errors": []}}


async def test_a_sync_mutation_is_bounded_too(schema: Schema) -> None:
    data, errors = await run(
        schema, 'mutation { echoSync(slotStart: "x") { errors { field code } } }'
    )
    assert errors == []
    assert data == {"echoSync": {"errors": [{"field": "slotStart", "code": "CONFLICT"}]}}


async def test_fields_without_a_payload_answer_a_coded_graphql_error(schema: Schema) -> None:
    for query, code in (
        ("{ failingLookup }", "NOT_FOUND"),
        ("mutation { withoutPayload }", "CONFLICT"),
    ):
        data, errors = await run(schema, query)
        assert data is None
        assert len(errors) == 1 and errors[0][1] == {"code": code}


def test_the_plugins_own_fields_are_left_unchanged(schema: Schema) -> None:
    """The boundary goes on copies: building many schemas never stacks boundaries."""
    for root in (failing_fields.Query, failing_fields.Mutation):
        for field in root.__strawberry_definition__.fields:  # type: ignore[union-attr]
            assert not any(isinstance(e, ErrorBoundary) for e in field.extensions)
    mutation = schema.get_type_by_name("Mutation")
    assert isinstance(mutation, StrawberryObjectDefinition)
    echo = next(f for f in mutation.fields if f.python_name == "echo")
    assert [type(e) for e in echo.extensions] == [ErrorBoundary]
