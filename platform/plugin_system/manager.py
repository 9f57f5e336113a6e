"""Building the plugin manager: the platform's own plugins, entry points and extra modules."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, TypeVar, cast

import pluggy

from specialistly import hookspecs
from specialistly.hookspecs import PROJECT
from specialistly.providers import (
    EmailProvider,
    PaymentProvider,
    Providers,
    VideoProvider,
)
from specialistly.settings import Settings

# The platform's own features use the same hooks as any plugin (pytest's default_plugins).
DEFAULT_PLUGINS = (
    "specialistly.api.accounts",
    "specialistly.api.services",
    "specialistly.api.availability",
    "specialistly.api.slots",
    "specialistly.api.marketplace",
    "specialistly.api.bookings",
    "specialistly.features.meetings",
    "specialistly.features.notifications",
    "specialistly.api.notifications",
)

T = TypeVar("T")


class PluginError(RuntimeError):
    """A plugin failed to load or breaks the contract; the message names it."""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    module: str
    source: str  # "builtin", "entry point" or "extra"


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering where each plugin came from."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}

    def register_module(self, name: str, module: ModuleType | object, source: str) -> None:
        try:
            self.register(module, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginError(f"plugin {name!r} breaks the plugin contract: {exc}") from exc
        self.infos[name] = PluginInfo(name, getattr(module, "__name__", repr(module)), source)

    def collect(self, hook_name: str) -> list[tuple[str, Any]]:
        """Call a start-up hook on each plugin separately: [(plugin name, result), ...]."""
        results = []
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            try:
                result = impl.function()
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed in {hook_name}: {exc}"
                ) from exc
            results.append((impl.plugin_name, result))
        return results

    def providers(self) -> ProviderSet:
        return ProviderSet(
            video=Providers("video", VideoProvider, self._flat("video_providers")),
            payment=Providers("payment", PaymentProvider, self._flat("payment_providers")),
            email=Providers("email", EmailProvider, self._flat("email_providers")),
        )

    def _flat(self, hook_name: str) -> list[Any]:
        return [item for _, items in self.collect(hook_name) for item in items or ()]


@dataclass(frozen=True)
class ProviderSet:
    video: Providers[VideoProvider]
    payment: Providers[PaymentProvider]
    email: Providers[EmailProvider]


def create_plugin_manager(settings: Settings) -> PluginManager:
    """A complete plugin manager: built-in plugins, then entry points, then extra modules."""
    pm = PluginManager()
    disabled = set(settings.plugins_disabled)
    for module_name in DEFAULT_PLUGINS:
        pm.register_module(module_name, importlib.import_module(module_name), "builtin")
    for ep in sorted(entry_points(group=PROJECT), key=lambda ep: ep.name):
        if ep.name in disabled:
            continue
        pm.register_module(ep.name, _load(ep.name, ep.load), "entry point")
    for module_name in settings.plugins_extra:
        if module_name not in disabled:
            module = _load(module_name, lambda m=module_name: importlib.import_module(m))
            pm.register_module(module_name, module, "extra")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin)
        raise PluginError(f"plugin {name!r} implements an unknown hook: {exc}") from exc
    for name, settings_class in pm.collect("settings_class"):
        if settings_class is not None:
            _load(name, settings_class)
    return pm


def _load(name: str, load: Any) -> Any:
    try:
        return load()
    except Exception as exc:
        raise PluginError(f"plugin {name!r} failed to load: {exc}") from exc


async def await_me_maybe(value: T | Awaitable[T]) -> T:
    """The one place that knows a hook may return a value or an awaitable."""
    if inspect.isawaitable(value):
        return await cast(Awaitable[T], value)
    return value
