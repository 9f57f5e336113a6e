"""GraphQL answers are encoded as compact JSON text that decodes to what was answered."""

from __future__ import annotations

import json
import secrets
from typing import Any

from specialistly.api.schema import build_schema
from specialistly.api.transport import GraphQLApp
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.settings import Settings

SETTINGS = Settings.model_validate(
    {"plugins_extra": [], "jwt_secret": secrets.token_urlsafe(32), "environment": "test"}
)
APP = GraphQLApp(build_schema(create_plugin_manager(SETTINGS), SETTINGS))


def test_answers_decode_to_what_was_answered() -> None:
    answer: dict[str, Any] = {
        "data": {"me": {"displayName": 'Zoë 🙂 "quoted"\n', "count": 3, "ratio": 0.5}},
        "errors": [{"message": "x", "path": ["me", 0], "extensions": {"code": "INVALID"}}],
        "extensions": {"nothing": None, "flags": [True, False]},
    }
    encoded = APP.encode_json(answer)
    assert isinstance(encoded, str)  # a WebSocket sends it as a text frame
    assert json.loads(encoded) == answer
    assert ", " not in encoded and '": ' not in encoded  # compact


def test_what_the_fast_encoder_refuses_is_still_answered() -> None:
    answer = {"data": {"big": 2**70, 1: "a key that is a number"}}
    assert json.loads(APP.encode_json(answer)) == {
        "data": {"big": 2**70, "1": "a key that is a number"}
    }
