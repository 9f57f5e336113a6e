"""The plugin manager: loading, disabling, order, settings, and start-up errors that name
the plugin."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from specialistly import hookspecs
from specialistly.api.schema import build_schema
from specialistly.hookspecs import PluginRuntime, PluginSettings, hookimpl
from specialistly.plugin_system.manager import PluginError, PluginManager, create_plugin_manager
from specialistly.processes.cli import main
from specialistly.providers import MeetingRequest
from specialistly.runtime import Runtime
from specialistly.settings import Settings
from specialistly_jitsi.plugin import JitsiSettings
from tests.plugins.example import ExampleSettings

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
    assert sources["accounts"] == "builtin"
    assert sources["jitsi"] == "entry point"
    assert sources[EXAMPLE] == "extra"
    providers = pm.providers()
    assert providers.video.names() == ["example-video", "jitsi", "zoom"]
    assert providers.payment.names() == ["example-payment", "stripe"]
    assert providers.email.names() == ["example-email", "sendgrid", "smtp"]


def test_a_plugin_can_be_disabled_by_setting() -> None:
    pm = create_plugin_manager(settings(plugins_disabled=["jitsi"]))
    assert "jitsi" not in pm.infos
    assert pm.providers().video.names() == ["zoom"]


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
        match=r"Query.example_greeting is defined by both plugin 'tests.plugins.example'"
        r" and plugin 'tests.plugins.duplicate_field'",
    ):
        build_schema(create_plugin_manager(s), s)


def test_two_providers_with_one_name_are_refused() -> None:
    pm = create_plugin_manager(settings(plugins_extra=["tests.plugins.duplicate_provider"]))
    with pytest.raises(ValueError, match="two video providers are named 'jitsi'"):
        pm.providers()


# --------------------------------------------------------------------------- order


@dataclass(frozen=True)
class NamedVideo:
    """Enough of a video provider to tell whose result is whose."""

    name: str


class Early:
    @hookimpl(tryfirst=True)
    def video_providers(self) -> list[NamedVideo]:
        return [NamedVideo("early")]

    @hookimpl(tryfirst=True)
    def on_event(self) -> None:
        return None


class Late:
    @hookimpl(trylast=True)
    def video_providers(self) -> list[NamedVideo]:
        return [NamedVideo("late")]


def ordered_plugins() -> PluginManager:
    """Built-ins, jitsi, zoom and the example (registered after them), then early and late."""
    pm = create_plugin_manager(settings(plugins_extra=[EXAMPLE]))
    pm.register_module("late", Late(), "extra")
    pm.register_module("early", Early(), "extra")
    return pm


def test_start_up_hooks_run_in_pluggys_order() -> None:
    """tryfirst first, then the last registered first, trylast last: the order of pluggy's
    own call of the hook."""
    pm = ordered_plugins()
    collected = pm.collect("video_providers")
    assert [name for name, _ in collected] == ["early", EXAMPLE, "zoom", "jitsi", "late"]
    pluggys = pm.hook.video_providers(plugin_settings=pm.plugin_settings)
    assert [p.name for _, items in collected for p in items] == [
        p.name for items in pluggys for p in items
    ]
    assert pm.hooks_of("early") == ["on_event[tryfirst]", "video_providers[tryfirst]"]


def test_on_event_runs_in_pluggys_order() -> None:
    pm = ordered_plugins()
    assert pm.call_order("on_event") == [
        "early",
        EXAMPLE,
        "zoom",
        "account-mail",
        "mail",
        "in-app-notifications",
        "notifications",
        "payments",
        "meetings",
    ]


def test_a_start_up_hook_that_fails_names_its_plugin() -> None:
    class Failing:
        @hookimpl
        def video_providers(self) -> list[Any]:
            raise RuntimeError("no licence")

    pm = create_plugin_manager(settings())
    pm.register_module("failing", Failing(), "extra")
    with pytest.raises(PluginError, match=r"plugin 'failing' failed in video_providers: no lic"):
        pm.providers()


class NewStyleWrapper:
    @hookimpl(wrapper=True)
    def video_providers(self) -> Generator[None, list[Any], list[Any]]:
        return (yield)


class OldStyleWrapper:
    @hookimpl(hookwrapper=True)
    def on_event(self) -> Generator[None, Any, None]:
        yield


@pytest.mark.parametrize(
    ("plugin", "hook"), [(NewStyleWrapper(), "video_providers"), (OldStyleWrapper(), "on_event")]
)
def test_a_wrapper_is_refused_naming_plugin_and_hook(plugin: object, hook: str) -> None:
    """Each plugin's hooks are called on their own, so a wrapper could wrap only itself."""
    pm = PluginManager()
    with pytest.raises(PluginError, match=rf"plugin 'wrapping' marks its hook '{hook}' as a wr"):
        pm.register_module("wrapping", plugin, "extra")
    assert not pm.has_plugin("wrapping")
    assert pm.hook.on_event.get_hookimpls() == []


def test_a_hook_implemented_twice_by_one_plugin_is_refused() -> None:
    class Twice:
        @hookimpl
        def on_event(self) -> None:
            return None

        @hookimpl(specname="on_event", tryfirst=True)
        def on_event_early(self) -> None:
            return None

    with pytest.raises(PluginError, match=r"plugin 'twice' implements the hook 'on_event' twi"):
        PluginManager().register_module("twice", Twice(), "extra")


# --------------------------------------------------------------------------- settings


def test_each_plugins_settings_are_kept_by_name_and_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECIALISTLY_EXAMPLE_GREETING", "hi")
    pm = create_plugin_manager(settings(plugins_extra=[EXAMPLE]))
    example = pm.plugin_settings.of(ExampleSettings)
    assert example.greeting == "hi"
    assert pm.plugin_settings[EXAMPLE] is example
    assert set(pm.plugin_settings) == {
        "jitsi",
        "sendgrid",
        "smtp",
        "stripe",
        "zoom",
        "zoom-webhooks",
        EXAMPLE,
    }
    with pytest.raises(LookupError, match="no plugin has the settings class JitsiSettings"):
        PluginSettings().of(JitsiSettings)


async def test_jitsi_builds_its_provider_from_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    request = MeetingRequest("b1", "s1", "Intro", datetime(2030, 1, 7, 9, tzinfo=UTC), 30)
    for server in ("https://meet.one.example", "https://meet.two.example"):
        monkeypatch.setenv("SPECIALISTLY_JITSI_SERVER_URL", server)
        monkeypatch.setenv("SPECIALISTLY_JITSI_ROOM_PREFIX", "acme")
        pm = create_plugin_manager(settings())
        meeting = await pm.providers().video["jitsi"].create_meeting(request)
        assert meeting.join_url.startswith(f"{server}/acme-")


def test_the_runtime_offers_what_plugins_may_rely_on() -> None:
    stable = [name for name, v in vars(PluginRuntime).items() if isinstance(v, property)]
    assert stable == ["settings", "plugin_settings", "providers"]
    fields = {f.name for f in dataclasses.fields(Runtime)}
    for name in stable:
        assert name in fields or isinstance(getattr(Runtime, name), property), name
        assert f"``{name}``" in (hookspecs.__doc__ or ""), f"hookspecs does not name {name}"

    def as_plugin_runtime(runtime: Runtime) -> PluginRuntime:
        return runtime  # never called: mypy checks that a Runtime is a PluginRuntime


# --------------------------------------------------------------------------- listing


def listing(capsys: pytest.CaptureFixture[str]) -> dict[str, list[str]]:
    """`specialistly plugins`, as {plugin name: [its header, its detail lines...]}."""
    assert main(["plugins"]) == 0
    blocks: dict[str, list[str]] = {}
    block: list[str] = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("    "):
            block.append(line.strip())
        elif not line.startswith("providers:"):
            block = blocks[line.split()[0]] = [" ".join(line.split())]
    return blocks


def test_plugins_command_shows_versions_hooks_providers_and_routes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPECIALISTLY_PLUGINS_EXTRA", f'["{EXAMPLE}"]')
    monkeypatch.setenv("SPECIALISTLY_PUBLIC_URL", "https://api.example.org/")
    platform = version("specialistly")
    blocks = listing(capsys)
    assert blocks["accounts"] == [
        f"accounts {platform} builtin specialistly.api.accounts",
        "hooks: graphql_contribution",
    ]
    assert blocks["jitsi"] == [
        f"jitsi {platform} entry point specialistly_jitsi.plugin",
        "hooks: settings_class, video_providers",
        "providers: video:jitsi",
    ]
    assert blocks[EXAMPLE][0] == f"{EXAMPLE} - extra {EXAMPLE}"
    assert blocks[EXAMPLE][-1] == "routes: https://api.example.org/plugins/example/ping"


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
