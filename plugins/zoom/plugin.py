"""The Zoom plugin: specialists connect their own Zoom account (user-managed OAuth), and
each booking of a Zoom service gets exactly one scheduled meeting on it."""

from __future__ import annotations

from collections.abc import Sequence

from beanie import Document
from pydantic_settings import BaseSettings
from starlette.routing import BaseRoute

from specialistly.hookspecs import GraphQLContribution, PluginSettings, hookimpl
from specialistly.providers import VideoProvider
from specialistly_zoom.fields import Mutation, Query, ZoomConnectionType
from specialistly_zoom.models import DOCUMENTS
from specialistly_zoom.provider import ZoomProvider
from specialistly_zoom.routes import ROUTES
from specialistly_zoom.settings import ZoomSettings


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
