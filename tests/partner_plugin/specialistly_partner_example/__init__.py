"""A partner's email provider and GraphQL field, shipped as its own distribution; it tells
the partner's desk of the events it watches, before any other plugin reacts to them."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from pydantic_settings import BaseSettings, SettingsConfigDict

from specialistly.core.events import Event
from specialistly.hookspecs import GraphQLContribution, PluginRuntime, hookimpl
from specialistly.providers import EmailMessage


class PartnerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPECIALISTLY_PARTNER_", extra="ignore")

    desk_address: str = "desk@partner.example"
    watched_events: list[str] = ["booking.confirmed"]


class PartnerMail:
    name = "partner-mail"
    display_name = "Partner Mail"

    def __init__(self) -> None:
        self.sent: dict[str, EmailMessage] = {}

    async def send(self, message: EmailMessage) -> str:
        """Sends a message once per Idempotency-Key header (events may be delivered again)."""
        key = message.headers.get("Idempotency-Key", f"message-{len(self.sent)}")
        self.sent.setdefault(key, message)
        return f"partner-{key}"


@strawberry.type
class Query:
    @strawberry.field(description="Proves that a separately installed plugin adds fields.")
    def partner_status(self) -> str:
        return "installed"


@hookimpl
def email_providers() -> Sequence[PartnerMail]:
    return [PartnerMail()]


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query)


@hookimpl
def settings_class() -> type[BaseSettings]:
    return PartnerSettings


@hookimpl(tryfirst=True)
async def on_event(event: Event, runtime: PluginRuntime) -> None:
    """Mail the desk about a watched event, with the settings handed back by the runtime."""
    settings = runtime.plugin_settings.of(PartnerSettings)
    if event.name not in settings.watched_events:
        return
    message = EmailMessage(
        to=(settings.desk_address,),
        subject=f"{event.name}: {event.subject}",
        text=f"{event.name} of {event.subject} at {event.occurred_at.isoformat()}",
        headers={"Idempotency-Key": str(event.id)},
    )
    await runtime.providers.email["partner-mail"].send(message)
