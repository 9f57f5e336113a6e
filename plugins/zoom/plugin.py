"""The Zoom plugin: specialists connect their own Zoom account (user-managed OAuth), and
each booking of a Zoom service gets exactly one scheduled meeting on it.

It owns the connections, so it is the one that forgets a user's tokens when the webhooks
plugin reports that the user removed the app (``zoom.deauthorized``)."""

from __future__ import annotations

from collections.abc import Sequence

from beanie import Document
from pydantic_settings import BaseSettings
from starlette.routing import BaseRoute

from specialistly.core.events import Event
from specialistly.hookspecs import (
    GraphQLContribution,
    PluginRuntime,
    PluginSettings,
    Sweep,
    hookimpl,
)
from specialistly.providers import VideoProvider
from specialistly_zoom.connections import forget_zoom_user
from specialistly_zoom.deadlines import overdue_meetings
from specialistly_zoom.fields import Mutation, Query, ZoomConnectionType
from specialistly_zoom.models import DOCUMENTS
from specialistly_zoom.provider import ZoomProvider
from specialistly_zoom.routes import ROUTES
from specialistly_zoom.settings import ZoomSettings
from specialistly_zoom.webhooks import ZOOM_DEAUTHORIZED


@hookimpl
def settings_class() -> type[BaseSettings]:
    return ZoomSettings


@hookimpl
def document_models() -> Sequence[type[Document]]:
    return DOCUMENTS


@hookimpl
def video_providers(plugin_settings: PluginSettings) -> Sequence[VideoProvider]:
    return [ZoomProvider(plugin_settings.of(ZoomSettings))]


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation, types=(ZoomConnectionType,))


@hookimpl
def http_routes() -> Sequence[BaseRoute]:
    return ROUTES


@hookimpl
async def on_event(event: Event) -> None:
    if event.name == ZOOM_DEAUTHORIZED:
        await forget_zoom_user(str(event.data.get("zoom_user_id", "")))


@hookimpl
def sweeps(runtime: PluginRuntime) -> Sequence[Sweep]:
    return [overdue_meetings(runtime.settings.meeting_deadline)]
