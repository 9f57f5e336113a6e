"""The SendGrid plugin: an email provider through the v3 Mail Send API, and the signed
Event Webhook at ``/plugins/sendgrid/events`` recording what became of each message."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_settings import BaseSettings
from starlette.routing import BaseRoute, Route

from specialistly.hookspecs import PluginSettings, hookimpl
from specialistly.providers import EmailProvider
from specialistly_sendgrid.provider import SendgridProvider
from specialistly_sendgrid.settings import SendgridSettings
from specialistly_sendgrid.webhook import PATH, handler


@hookimpl
def settings_class() -> type[BaseSettings]:
    return SendgridSettings


@hookimpl
def email_providers(plugin_settings: PluginSettings) -> Sequence[EmailProvider]:
    return [SendgridProvider(plugin_settings.of(SendgridSettings))]


@hookimpl
def http_routes(plugin_settings: PluginSettings) -> Sequence[BaseRoute]:
    return [Route(PATH, handler(plugin_settings.of(SendgridSettings)), methods=["POST"])]
