"""The Zoom webhooks plugin: Zoom's event notifications, attendance and recordings.

Its routes: ``POST /plugins/zoom/webhooks`` (the Event Subscription URL to give Zoom) and
``GET /plugins/zoom/recordings/{file_id}`` (a recording file, for the booking's parties).
"""

from __future__ import annotations

from collections.abc import Sequence

from beanie import Document
from pydantic_settings import BaseSettings
from starlette.routing import BaseRoute, Route

from specialistly.hookspecs import GraphQLContribution, PluginSettings, Sweep, hookimpl
from specialistly_zoom import attendance, recordings, webhook_schema, webhooks
from specialistly_zoom.webhook_settings import ZoomWebhookSettings


@hookimpl
def settings_class() -> type[BaseSettings]:
    return ZoomWebhookSettings


@hookimpl
def document_models() -> Sequence[type[Document]]:
    return [
        webhooks.ZoomWebhookReceipt,
        attendance.ZoomMeetingRecord,
        attendance.ZoomParticipation,
        recordings.ZoomRecording,
    ]


@hookimpl
def http_routes(plugin_settings: PluginSettings) -> Sequence[BaseRoute]:
    settings = plugin_settings.of(ZoomWebhookSettings)
    return [
        Route(webhooks.WEBHOOK_PATH, webhooks.endpoint(settings), methods=["POST"]),
        Route(recordings.RECORDINGS_PATH, recordings.download_route(settings), methods=["GET"]),
    ]


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=webhook_schema.Query)


@hookimpl
def sweeps() -> Sequence[Sweep]:
    return [recordings.delete_expired, webhooks.forget_old_receipts]
