"""The platform's hooks around an operation run without strawberry preparing them anew for
each request, and still do everything they did: rules, metrics, masking."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from strawberry.extensions.context import ExtensionContextManagerBase

from specialistly.api.schema import build_schema
from specialistly.infra.metrics.registry import REGISTRY
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.settings import Settings
from tests.schema_context import offline_context

SETTINGS = Settings.model_validate(
    {"plugins_extra": [], "jwt_secret": secrets.token_urlsafe(32), "environment": "test"}
)
SCHEMA = build_schema(create_plugin_manager(SETTINGS), SETTINGS)


def operations(name: str, outcome: str) -> float:
    labels = {"operation": name, "type": "query", "outcome": outcome}
    count = REGISTRY.get_sample_value(
        "specialistly_graphql_operation_duration_seconds_count", labels
    )
    return count or 0.0


async def test_no_hook_is_prepared_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared: list[str] = []
    original = ExtensionContextManagerBase.__init__

    def counted(self: Any, *args: Any, **kwargs: Any) -> None:
        prepared.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ExtensionContextManagerBase, "__init__", counted)
    name = f"Hooks{secrets.token_hex(4)}"
    before = operations(name, "ok")
    result = await SCHEMA.execute(f"query {name} {{ __typename }}", context_value=offline_context())
    assert result.errors is None and result.data == {"__typename": "Query"}
    assert prepared == []
    assert operations(name, "ok") == before + 1


async def test_the_hooks_still_refuse_and_measure() -> None:
    name = f"Broken{secrets.token_hex(4)}"
    before = operations(name, "invalid")
    broken = await SCHEMA.execute(f"query {name} {{ nothing }}", context_value=offline_context())
    assert broken.errors and "nothing" in broken.errors[0].message
    assert operations(name, "invalid") == before + 1
