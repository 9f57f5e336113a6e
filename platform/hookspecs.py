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
  loaded, and their results are collected from all plugins.
- A plugin never imports another plugin.
- Async work: ``on_event`` may return an awaitable; the platform awaits it
  (see :func:`specialistly.plugin_system.manager.await_me_maybe`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from beanie import Document
    from pydantic_settings import BaseSettings
    from starlette.routing import BaseRoute

    from specialistly.core.events import Event
    from specialistly.providers import EmailProvider, PaymentProvider, VideoProvider
    from specialistly.runtime import Runtime

PROJECT = "specialistly"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


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


# --------------------------------------------------------------------------- configuration


@hookspec
def settings_class() -> type[BaseSettings] | None:
    """The plugin's settings class, read from the environment with the plugin's own prefix.

    Called at start-up; the platform instantiates each class once so that invalid settings
    stop the start with an error naming the plugin.

    :return: a ``pydantic_settings.BaseSettings`` subclass, or ``None``.
    """


@hookspec
def document_models() -> Sequence[type[Document]]:
    """Beanie document models the plugin stores; initialised with the core's at start-up.

    :return: the model classes (possibly empty).
    """
    return ()


@hookspec
def graphql_contribution() -> GraphQLContribution | None:
    """Types and root fields the plugin adds to the GraphQL schema.

    Called once when the schema is built, after all plugins are loaded.

    :return: a :class:`GraphQLContribution`, or ``None``.
    """


@hookspec
def http_routes() -> Sequence[BaseRoute]:
    """Starlette routes the plugin serves (OAuth callbacks, webhooks, ...).

    Paths should start with ``/plugins/<plugin name>/`` so plugins cannot collide.

    :return: the routes (possibly empty).
    """
    return ()


# --------------------------------------------------------------------------- providers


@hookspec
def video_providers() -> Sequence[VideoProvider]:
    """Video-meeting providers the plugin offers (see :mod:`specialistly.providers`).

    :return: provider objects; each ``name`` must be unique across all plugins.
    """
    return ()


@hookspec
def payment_providers() -> Sequence[PaymentProvider]:
    """Payment providers the plugin offers (see :mod:`specialistly.providers`).

    :return: provider objects; each ``name`` must be unique across all plugins.
    """
    return ()


@hookspec
def email_providers() -> Sequence[EmailProvider]:
    """Email providers the plugin offers (see :mod:`specialistly.providers`).

    :return: provider objects; each ``name`` must be unique across all plugins.
    """
    return ()


# --------------------------------------------------------------------------- lifecycle


@hookspec
def on_event(event: Event, runtime: Runtime) -> Awaitable[None] | None:
    """React to a stored lifecycle event (``booking.confirmed``, ``booking.cancelled``, ...).

    Called by a background job, once per plugin and in that plugin's own ``try``, after the
    change that caused the event has been written. A plugin that fails is retried later
    without running the others again. The same event may be delivered more than once (after
    a crash, for example), so an implementation must be idempotent: use ``event.id`` or the
    state of the documents it changes to do its work once.

    :param event: the stored event; ``event.name``, ``event.version`` and ``event.data``.
    :param runtime: the worker's :class:`~specialistly.runtime.Runtime` (settings,
        providers, database and Redis clients).
    :return: ``None`` or an awaitable that the platform awaits.
    """
