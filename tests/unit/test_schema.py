"""The checked-in SDL is what the code builds."""

from __future__ import annotations

from pathlib import Path

from specialistly.processes.cli import DEFAULT_SCHEMA_PATH, schema_sdl
from specialistly.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent


def test_schema_file_matches_the_code() -> None:
    built = schema_sdl(Settings.model_validate({"plugins_extra": [], "plugins_disabled": []}))
    checked_in = (ROOT / DEFAULT_SCHEMA_PATH).read_text()
    assert checked_in == built, "schema/schema.graphql is stale: run `specialistly export-schema`"
