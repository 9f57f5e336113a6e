"""The SendGrid plugin's settings (prefix ``SPECIALISTLY_SENDGRID_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SendgridSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPECIALISTLY_SENDGRID_", extra="ignore")

    api_key: SecretStr | None = None
    base_url: str = "https://api.sendgrid.com"
    timeout: float = Field(10.0, gt=0)
    # Requests per send, the first included, while the answers are transient.
    max_attempts: int = Field(3, ge=1)
    retry_delay: float = Field(1.0, ge=0)  # seconds before the second try; doubles
    # The longest wait for a rate limit's reset within one send; longer ones are left to
    # the next delivery of the event.
    max_retry_wait: float = Field(30.0, ge=0)
    # The Event Webhook's verification key (base64 DER, as SendGrid shows it); unset, the
    # webhook refuses every request.
    webhook_public_key: str | None = None
