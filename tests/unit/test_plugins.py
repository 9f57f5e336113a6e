"""The plugin manager: loading, disabling, and start-up errors that name the plugin."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from specialistly import hookspecs
from specialistly.api.schema import build_schema
from specialistly.plugin_system.manager import PluginError, create_plugin_manager
from specialistly.settings import Settings

EXAMPLE = "tests.plugins.example"
TESTS = Path(__file__).resolve().parent.parent


def settings(**changes: object) -> Settings:
    return Settings.model_validate(changes)


def test_hook_video_providers() -> None:
    pm = create_plugin_manager(settings(plugins_extra=[EXAMPLE]))
    assert pm.providers().video["example-video"].display_name == "Example video"


def test_hook_payment_providers() -> None:
    pm = create_plugin_manager(settings(plugins_extra=[EXAMPLE]))
    assert pm.providers().payment["example-payment"].display_name == "Example payment"


def test_hook_email_providers() -> None:
    pm = create_plugin_manager(settings(plugins_extra=[EXAMPLE]))
    assert pm.providers().email["example-email"].display_name == "Example email"


def test_builtin_entry_point_and_extra_plugins_load() -> None:
    pm = create_plugin_manager(settings(plugins_extra=[EXAMPLE]))
    sources = {info.name: info.source for info in pm.infos.values()}
    assert sources["specialistly.api.accounts"] == "builtin"
    assert sources["jitsi"] == "entry point"
    assert sources[EXAMPLE] == "extra"
    providers = pm.providers()
    assert providers.video.names() == ["example-video", "jitsi"]
    assert providers.payment.names() == ["example-payment"]
    assert providers.email.names() == ["example-email"]


def test_a_plugin_can_be_disabled_by_setting() -> None:
    pm = create_plugin_manager(settings(plugins_disabled=["jitsi"]))
    assert "jitsi" not in pm.infos
    assert pm.providers().video.names() == []


def test_a_plugin_that_fails_to_import_is_named() -> None:
    with pytest.raises(PluginError, match=r"plugin 'tests.plugins.missing' failed to load"):
        create_plugin_manager(settings(plugins_extra=["tests.plugins.missing"]))


def test_a_plugin_implementing_an_unknown_hook_is_named() -> None:
    with pytest.raises(PluginError, match=r"'tests.plugins.unknown_hook'.*unknown hook"):
        create_plugin_manager(settings(plugins_extra=["tests.plugins.unknown_hook"]))


def test_hook_settings_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each plugin's settings are read at start-up; invalid ones stop it, naming the plugin."""
    monkeypatch.setenv("SPECIALISTLY_EXAMPLE_MAX_ITEMS", "many")
    with pytest.raises(PluginError, match=r"(?s)plugin 'tests.plugins.example' failed.*max_items"):
        create_plugin_manager(settings(plugins_extra=[EXAMPLE]))


def test_a_root_field_defined_twice_names_both_plugins() -> None:
    s = settings(plugins_extra=[EXAMPLE, "tests.plugins.duplicate_field"])
    with pytest.raises(
        PluginError,
        match=r"Query.exampleGreeting|Query.example_greeting.*'tests.plugins.example'.*"
        r"'tests.plugins.duplicate_field'",
    ):
        build_schema(create_plugin_manager(s), s)


def test_two_providers_with_one_name_are_refused() -> None:
    pm = create_plugin_manager(settings(plugins_extra=["tests.plugins.duplicate_provider"]))
    with pytest.raises(ValueError, match="two video providers are named 'jitsi'"):
        pm.providers()


def hook_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "specialistly_spec")
    ]


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_is_documented(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert ":return:" in doc, f"hook {name} does not say what it returns"
    for parameter in inspect.signature(getattr(hookspecs, name)).parameters:
        assert f":param {parameter}:" in doc, f"hook {name} does not describe {parameter}"


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_has_a_test(name: str) -> None:
    sources = "\n".join(p.read_text() for p in TESTS.rglob("test_*.py"))
    assert re.search(rf"def test_hook_{name}\b", sources), f"no test_hook_{name} in tests/"
