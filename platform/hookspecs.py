"""The plugin contract: every hook a plugin may implement, in one place.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names are hook
names below. It is found through the ``specialistly`` entry-point group, the same for the
platform's own plugins and for a partner's separately installed distribution::

    [project.entry-points.specialistly]
    myplugin = "my_package.plugin"

Conventions:

- Hooks are called with keyword arguments only; an implementation may accept any subset of
  the arguments of its spec, so adding an argument later breaks no plugin.
- Hooks named after what they return are called once at start-up, after every plugin is
  loaded, and their results are collected from all plugins. Those that take
  ``plugin_settings`` receive every plugin's validated settings (see :class:`PluginSettings`).
- A plugin never imports another plugin.
- Async work: ``on_event`` may return an awaitable; the platform awaits it
  (see :func:`specialistly.plugin_system.manager.await_me_maybe`).

Order and markers, as pluggy documents them: the implementations of a hook run last
registered first (built-ins are registered first, then entry points by name, then
``SPECIALISTLY_PLUGINS_EXTRA`` in order), except that ``@hookimpl(tryfirst=True)`` runs
before and ``@hookimpl(trylast=True)`` after the others. The platform calls each plugin's
implementation on its own, in that order, so that a failure names its plugin and one plugin's
failing ``on_event`` does not hold back the others. What that cannot honour is refused when
the plugin is registered, with an error naming the plugin and the hook: ``wrapper=True`` and
``hookwrapper=True`` (a wrapper would wrap only its own plugin), and a second implementation
of the same hook in one plugin (through ``specname``).

What a plugin may rely on in the :class:`~specialistly.runtime.Runtime` it is given is
:class:`PluginRuntime`: ``settings``, ``plugin_settings`` and ``providers``. Every other
attribute of the runtime belongs to the platform and may change in any release.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

import pluggy
from pydantic_settings import BaseSettings

if TYPE_CHECKING:
    from beanie import Document
    from starlette.routing import BaseRoute

    from specialistly.core.events import Event
    from specialistly.plugin_system.manager import ProviderSet
    from specialistly.providers import EmailProvider, PaymentProvider, VideoProvider
    from specialistly.settings import Settings

PROJECT = "specialistly"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

S = TypeVar("S", bound=BaseSettings)

# A periodic clean-up: given the current time, it does what is due (see the ``sweeps`` hook).
Sweep = Callable[[datetime], Awaitable[None]]


@dataclass(frozen=True)
class GraphQLContribution:
    """Strawberry classes a plugin adds to the one schema.

    ``query``, ``mutation`` and ``subscription`` are ``@strawberry.type`` classes whose fields
    are merged into the root types; a field name defined twice is a start-up error naming
    both plugins. ``types`` are extra types to register (for example implementations of an
    interface that no field returns directly).

    Expected failures: a resolver raises :class:`~specialistly.core.errors.DomainError`
    with Python field paths, and the platform's error boundary answers it (a mutation
    whose payload has ``errors: list[UserError]``, and defaults for its other fields, gets
    them there with the client's field names; any other root field a GraphQL error with
    ``extensions.code``). Codes are members of :class:`~specialistly.core.errors.ErrorCode`,
    one closed GraphQL enum that clients switch on: a plugin reports the generic ones
    (``INVALID``, ``REQUIRED``, ``NOT_FOUND``, ``FORBIDDEN``, ``CONFLICT``, ...) and says
    the specifics in the message.
    """

    query: type | None = None
    mutation: type | None = None
    subscription: type | None = None
    types: Sequence[type] = field(default_factory=tuple)


class PluginSettings(Mapping[str, BaseSettings]):
    """Each plugin's settings, read and validated once at start-up, by plugin name.

    A plugin finds its own with ``plugin_settings.of(MySettings)``, where ``MySettings`` is
    the class its ``settings_class`` hook returns; it need not know the name it was
    registered under.
    """

    def __init__(self, by_plugin: Mapping[str, BaseSettings] | None = None) -> None:
        self._by_plugin = dict(by_plugin or {})

    def __getitem__(self, plugin_name: str) -> BaseSettings:
        return self._by_plugin[plugin_name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_plugin)

    def __len__(self) -> int:
        return len(self._by_plugin)

    def of(self, settings_class: type[S]) -> S:
        """The settings read with ``settings_class``; LookupError if no plugin returned it."""
        for settings in self._by_plugin.values():
            if type(settings) is settings_class:
                return settings
        raise LookupError(f"no plugin has the settings class {settings_class.__qualname__}")


class PluginRuntime(Protocol):
    """What a plugin may rely on in the runtime it is given: stable across releases.

    The :class:`~specialistly.runtime.Runtime` has more; the rest is the platform's own.
    """

    @property
    def settings(self) -> Settings:
        """The platform's settings (read-only)."""
        ...

    @property
    def plugin_settings(self) -> PluginSettings:
        """Every plugin's validated settings (see :class:`PluginSettings`)."""
        ...

    @property
    def providers(self) -> ProviderSet:
        """The video, payment and email providers of all plugins, by kind and name."""
        ...


# --------------------------------------------------------------------------- configuration


@hookspec
def settings_class() -> type[BaseSettings] | None:
    """The plugin's settings class, read from the environment with the plugin's own prefix.

    Called first at start-up; the platform instantiates each class once, so that invalid
    settings stop the start with an error naming the plugin, and hands the instance back:
    to the other start-up hooks as ``plugin_settings`` and to ``on_event`` as
    ``runtime.plugin_settings`` (in both, ``.of(TheClass)``).

    :return: a ``pydantic_settings.BaseSettings`` subclass, or ``None``.
    """


@hookspec
def document_models() -> Sequence[type[Document]]:
    """Beanie document models the plugin stores; initialised with the core's at start-up.

    A model with an ``outbox: list[OutboxEvent]`` field may carry lifecycle events: write
    them with the change (``events.insert_with_events``, ``events.update_with_events``)
    and the unit of work the change runs in publishes them; the sweeper publishes any
    outbox left behind. A plugin never publishes by hand. Those helpers also raise the
    document's top-level ``outbox_waiting`` flag, by which the sweeper finds it: a model
    whose documents are ever replaced whole (``save``) declares ``outbox_waiting: bool =
    False`` as well, so that a replacement keeps the flag.

    :return: the model classes (possibly empty).
    """
    return ()


@hookspec
def graphql_contribution(plugin_settings: PluginSettings) -> GraphQLContribution | None:
    """Types and root fields the plugin adds to the GraphQL schema.

    Called once when the schema is built, after all plugins are loaded. Resolvers reach the
    runtime as ``info.context.runtime`` (a :class:`PluginRuntime`, as far as plugins go).

    :param plugin_settings: every plugin's validated settings.
    :return: a :class:`GraphQLContribution`, or ``None``.
    """


@hookspec
def http_routes(plugin_settings: PluginSettings) -> Sequence[BaseRoute]:
    """Starlette routes the plugin serves (OAuth callbacks, webhooks, ...).

    Paths should start with ``/plugins/<plugin name>/`` so plugins cannot collide;
    ``specialistly plugins`` prints each one's full address under the platform's public URL.

    :param plugin_settings: every plugin's validated settings.
    :return: the routes (possibly empty).
    """
    return ()


# --------------------------------------------------------------------------- providers


@hookspec
def video_providers(plugin_settings: PluginSettings) -> Sequence[VideoProvider]:
    """Video-meeting providers the plugin offers (see :mod:`specialistly.providers`).

    :param plugin_settings: every plugin's validated settings, to configure the providers.
    :return: provider objects; each ``name`` must be unique across all plugins.
    """
    return ()


@hookspec
def payment_providers(plugin_settings: PluginSettings) -> Sequence[PaymentProvider]:
    """Payment providers the plugin offers (see :mod:`specialistly.providers`).

    :param plugin_settings: every plugin's validated settings, to configure the providers.
    :return: provider objects; each ``name`` must be unique across all plugins.
    """
    return ()


@hookspec
def email_providers(plugin_settings: PluginSettings) -> Sequence[EmailProvider]:
    """Email providers the plugin offers (see :mod:`specialistly.providers`).

    :param plugin_settings: every plugin's validated settings, to configure the providers.
    :return: provider objects; each ``name`` must be unique across all plugins.
    """
    return ()


# --------------------------------------------------------------------------- lifecycle


@hookspec
def on_event(event: Event, runtime: PluginRuntime) -> Awaitable[None] | None:
    """React to a stored lifecycle event (``booking.confirmed``, ``booking.cancelled``, ...).

    Called by a background job, once per plugin and in that plugin's own ``try``, in the
    order of the markers (``tryfirst`` plugins first), after the change that caused the event
    has been written. Each plugin's success is recorded in ``event.handled_by``; a plugin that
    fails is retried later without running the others again. The same event may be
    delivered more than once (after a crash, for example), so an implementation must be
    idempotent: use ``event.id`` or the state of the documents it changes to do its work once.

    :param event: the stored event; ``event.name``, ``event.version`` and ``event.data``.
    :param runtime: the worker's runtime; plugins rely on :class:`PluginRuntime` only
        (``settings``, ``plugin_settings``, ``providers``).
    :return: ``None`` or an awaitable that the platform awaits.
    """


@hookspec
def sweeps(plugin_settings: PluginSettings, runtime: PluginRuntime) -> Sequence[Sweep]:
    """Periodic clean-ups the worker runs every sweep interval (retention, expiry, ...).

    Collected at each sweep; each clean-up is awaited with the current time, in a unit of
    work (the events it writes are published when the sweep ends) and in its own ``try``:
    a failing one is logged, naming its plugin, and retried at the next sweep. Several
    workers may sweep at once, so a clean-up must be safe to run twice.

    :param plugin_settings: every plugin's validated settings.
    :param runtime: the worker's runtime, for the platform's settings (``meeting_deadline``,
        say); plugins rely on :class:`PluginRuntime` only.
    :return: the clean-ups (possibly empty), async callables taking ``now`` (UTC).
    """
    return ()
