"""Building the plugin manager, and calling hooks plugin by plugin in pluggy's order."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points, packages_distributions, version
from types import ModuleType
from typing import Any, TypeVar, cast

import pluggy

from specialistly import hookspecs
from specialistly.hookspecs import PROJECT, PluginSettings
from specialistly.providers import (
    EmailProvider,
    PaymentProvider,
    Providers,
    VideoProvider,
)
from specialistly.settings import Settings

# The platform's own features use the same hooks as any plugin (pytest's default_plugins),
# under short names that stay the same when a module moves: `Event.handled_by` stores them.
DEFAULT_PLUGINS = {
    "accounts": "specialistly.api.accounts",
    "services": "specialistly.api.services",
    "availability": "specialistly.api.availability",
    "slots": "specialistly.api.slots",
    "marketplace": "specialistly.api.marketplace",
    "bookings": "specialistly.api.bookings",
    "meetings": "specialistly.features.meetings",
    "payments": "specialistly.features.payments",
    "notifications": "specialistly.features.notifications",
    "in-app-notifications": "specialistly.features.notifications_inbox",
    "smtp": "specialistly.features.smtp",
    "mail": "specialistly.features.mail",
    "account-mail": "specialistly.features.account_mail",
    "email-preferences": "specialistly.api.email_preferences",
    "lifecycle-events": "specialistly.api.notifications",
    "in-app-notifications-api": "specialistly.api.notifications_inbox",
}

T = TypeVar("T")


class PluginError(RuntimeError):
    """A plugin failed to load or breaks the contract; the message names it."""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    module: str
    source: str  # "builtin", "entry point" or "extra"
    version: str | None  # of the distribution that installed it, when there is one


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering where each plugin came from and its settings."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.plugin_settings = PluginSettings()

    def register_module(
        self, name: str, module: ModuleType | object, source: str, dist_version: str | None = None
    ) -> None:
        try:
            self.register(module, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginError(f"plugin {name!r} breaks the plugin contract: {exc}") from exc
        try:
            _refuse_what_cannot_be_honoured(name, self.get_hookcallers(module) or [])
        except PluginError:
            self.unregister(name=name)
            raise
        module_name = getattr(module, "__name__", type(module).__qualname__)
        self.infos[name] = PluginInfo(name, module_name, source, dist_version)

    def hooks_of(self, name: str) -> list[str]:
        """The hooks a plugin implements, with their order markers: ``on_event[tryfirst]``."""
        plugin = self.get_plugin(name)
        hooks = []
        for caller in self.get_hookcallers(plugin) or []:
            impl = next(i for i in caller.get_hookimpls() if i.plugin is plugin)
            marker = "[tryfirst]" if impl.tryfirst else "[trylast]" if impl.trylast else ""
            hooks.append(caller.name + marker)
        return sorted(hooks)

    def call_order(self, hook_name: str) -> list[str]:
        """The plugins implementing a hook, in the order pluggy calls them: ``tryfirst``
        ones, then the others last registered first, then ``trylast`` ones."""
        # pluggy keeps a hook's implementations in reverse call order (`_multicall` walks the
        # list backwards); with wrappers refused, that is the whole of its ordering.
        impls = getattr(self.hook, hook_name).get_hookimpls()
        return [impl.plugin_name for impl in reversed(impls)]

    def call_plugin(self, hook_name: str, plugin_name: str, **kwargs: Any) -> list[Any]:
        """Call one plugin's implementation of a hook through pluggy; its non-None results."""
        others = [p for n, p in self.list_name_plugin() if n != plugin_name and p is not None]
        results: list[Any] = self.subset_hook_caller(hook_name, others)(**kwargs)
        return results

    def collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a start-up hook on each plugin in turn, in pluggy's order, with
        ``plugin_settings``: [(plugin name, result), ...] for the non-None results."""
        kwargs = {"plugin_settings": self.plugin_settings, **kwargs}
        results: list[tuple[str, Any]] = []
        for name in self.call_order(hook_name):
            try:
                returned = self.call_plugin(hook_name, name, **kwargs)
            except Exception as exc:
                raise PluginError(f"plugin {name!r} failed in {hook_name}: {exc}") from exc
            results.extend((name, result) for result in returned)
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

    def all(self) -> list[object]:
        """Every provider, of every kind."""
        return [*self.video.all(), *self.payment.all(), *self.email.all()]


def create_plugin_manager(settings: Settings) -> PluginManager:
    """A complete plugin manager: built-in plugins, then entry points, then extra modules,
    then each plugin's settings read and validated."""
    pm = PluginManager()
    disabled = set(settings.plugins_disabled)
    platform_version = version("specialistly")
    for name, module_name in DEFAULT_PLUGINS.items():
        module = importlib.import_module(module_name)
        pm.register_module(name, module, "builtin", platform_version)
    for ep in sorted(entry_points(group=PROJECT), key=lambda ep: ep.name):
        if ep.name in disabled:
            continue
        pm.register_module(ep.name, _load(ep.name, ep.load), "entry point", _version_of(ep))
    for module_name in settings.plugins_extra:
        if module_name not in disabled:
            module = _load(module_name, lambda m=module_name: importlib.import_module(m))
            pm.register_module(module_name, module, "extra", _version_of_module(module_name))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        unknown = pm.get_name(exc.plugin)
        raise PluginError(f"plugin {unknown!r} implements an unknown hook: {exc}") from exc
    pm.plugin_settings = PluginSettings(
        {name: _load(name, settings_class) for name, settings_class in pm.collect("settings_class")}
    )
    return pm


def _refuse_what_cannot_be_honoured(name: str, callers: list[pluggy.HookCaller]) -> None:
    """Wrappers and a hook implemented twice by one plugin: see the hookspecs' docstring."""
    for caller in callers:
        impls = [impl for impl in caller.get_hookimpls() if impl.plugin_name == name]
        if any(impl.wrapper or impl.hookwrapper for impl in impls):
            raise PluginError(
                f"plugin {name!r} marks its hook {caller.name!r} as a wrapper: the platform"
                " calls each plugin's hooks on their own, so wrapper=True and"
                " hookwrapper=True are not supported"
            )
        if len(impls) > 1:
            raise PluginError(f"plugin {name!r} implements the hook {caller.name!r} twice")


def _version_of(ep: EntryPoint) -> str | None:
    return ep.dist.version if ep.dist is not None else None


def _version_of_module(module_name: str) -> str | None:
    """The version of the distribution that installed a module, if one did."""
    distributions = packages_distributions().get(module_name.partition(".")[0], [])
    return version(distributions[0]) if distributions else None


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
