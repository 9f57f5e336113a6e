"""The settings of the Zoom webhooks plugin (prefix ``SPECIALISTLY_ZOOM_WEBHOOK_``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ZoomWebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPECIALISTLY_ZOOM_WEBHOOK_", extra="ignore")

    # The Zoom app's Secret Token (Event Subscriptions); without it every delivery is refused.
    secret_token: SecretStr | None = None
    # How far a delivery's x-zm-request-timestamp may be from now (Zoom publishes none).
    timestamp_tolerance: timedelta = timedelta(minutes=5)
    # How long a delivery is remembered, so that the same event is handled once.
    replay_window: timedelta = timedelta(days=7)
    # How long a recording stays offered to the booking's parties.
    recording_retention: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class Delivery:
    """What a handler is given beside the event: when it arrived and the settings."""

    received_at: datetime
    settings: ZoomWebhookSettings
