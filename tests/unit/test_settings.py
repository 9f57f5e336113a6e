"""Every setting, the platform's and each first-party plugin's, is read by the code and
documented in the README; and the limits settings carry are the ones the API applies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from specialistly.api.schema import build_schema
from specialistly.plugin_system.manager import create_plugin_manager
from specialistly.settings import Settings
from tests.schema_context import offline_context

ROOT = Path(__file__).resolve().parents[2]


def first_party_settings() -> list[type[BaseSettings]]:
    pm = create_plugin_manager(Settings())
    classes: list[type[BaseSettings]] = [Settings]
    for name, plugin_settings in pm.plugin_settings.items():
        if pm.infos[name].module.startswith("specialistly"):
            classes.append(type(plugin_settings))
    return classes


SETTINGS = [
    pytest.param(cls, field, id=f"{cls.__name__}.{field}")
    for cls in first_party_settings()
    for field in cls.model_fields
]


def variables(cls: type[BaseSettings], field: str) -> list[str]:
    """The environment variables that set a field."""
    alias = cls.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"{cls.model_config.get('env_prefix', '')}{field}".upper()]


def configuration_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]


def code() -> str:
    return "\n".join(
        path.read_text()
        for folder in ("platform", "plugins")
        for path in (ROOT / folder).rglob("*.py")
    )


@pytest.mark.parametrize(("cls", "field"), SETTINGS)
def test_every_setting_is_read_by_the_code(cls: type[BaseSettings], field: str) -> None:
    assert re.search(rf"\.{field}\b", code()), f"nothing reads {cls.__name__}.{field}"


@pytest.mark.parametrize(("cls", "field"), SETTINGS)
def test_every_setting_is_documented_in_the_readme(cls: type[BaseSettings], field: str) -> None:
    names = variables(cls, field)
    section = configuration_section()
    assert any(f"`{name}`" in section for name in names), f"README does not list {names[0]}"


async def test_the_alias_limit_is_a_setting() -> None:
    settings = Settings(graphql_max_aliases=2)
    schema = build_schema(create_plugin_manager(settings), settings)
    result = await schema.execute(
        "{ a: __typename b: __typename c: __typename }", context_value=offline_context()
    )
    assert result.errors is not None
    assert "3 aliases found. Allowed: 2" in result.errors[0].message
    assert (
        await schema.execute("{ a: __typename b: __typename }", context_value=offline_context())
    ).errors is None


def test_page_size_max_is_at_least_the_largest_default_page() -> None:
    with pytest.raises(ValueError, match="page_size_max"):
        Settings(page_size_max=49)
