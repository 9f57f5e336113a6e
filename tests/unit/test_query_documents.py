"""A query text is parsed and validated once, and its limits still apply every time."""

from __future__ import annotations

import secrets
from typing import Any

from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from specialistly.api.documents import DOCUMENTS_CACHED
from specialistly.api.schema import build_schema
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.settings import Settings
from tests.schema_context import offline_context

SETTINGS = Settings.model_validate(
    {
        "plugins_extra": [],
        "jwt_secret": secrets.token_urlsafe(32),
        "environment": "test",
        "graphql_max_depth": 3,
    }
)
SCHEMA = build_schema(create_plugin_manager(SETTINGS), SETTINGS)


async def test_the_same_text_is_parsed_and_validated_once() -> None:
    text = f"query Again{secrets.token_hex(4)} {{ __typename }}"
    # strawberry's module-level LRU caches (functools.lru_cache, typed as plain callables).
    parsed: Any = _get_parse_cache(DOCUMENTS_CACHED)
    validated: Any = _get_validate_cache(DOCUMENTS_CACHED)
    for _ in range(3):
        result = await SCHEMA.execute(text, context_value=offline_context())
        assert result.errors is None
    parse_hits, validate_hits = parsed.cache_info().hits, validated.cache_info().hits
    assert (await SCHEMA.execute(text, context_value=offline_context())).errors is None
    assert parsed.cache_info().hits == parse_hits + 1
    assert validated.cache_info().hits == validate_hits + 1


async def test_cached_documents_keep_their_limits_and_errors() -> None:
    deep = "{ me { bookings { nodes { service { specialist { id } } } } } }"
    broken = "{ me { id "
    for _ in range(2):
        too_deep = await SCHEMA.execute(deep, context_value=offline_context())
        assert too_deep.errors and "exceeds maximum operation depth" in too_deep.errors[0].message
        syntax = await SCHEMA.execute(broken, context_value=offline_context())
        assert syntax.errors and "Syntax Error" in syntax.errors[0].message
