"""The Stripe plugin's settings (prefix ``SPECIALISTLY_STRIPE_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StripeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPECIALISTLY_STRIPE_", extra="ignore")

    # Without a secret key no payment can start: paid bookings answer PAYMENT_UNAVAILABLE.
    secret_key: SecretStr | None = None
    publishable_key: str | None = None
    # The signing secret of the webhook endpoint (whsec_...); unset, every delivery is refused.
    webhook_secret: SecretStr | None = None
    # The signing secret of the Connect webhook endpoint (events of specialists' accounts).
    connect_webhook_secret: SecretStr | None = None
    # Oldest signature timestamp accepted, in seconds; Stripe's libraries use 300 (never 0).
    webhook_tolerance: int = Field(300, ge=1)
    # Another address for Stripe's API (stripe-mock in tests and development).
    api_base: str | None = None
    # Seconds per call: a booking's time stays claimed while its payment is started.
    timeout: float = Field(20.0, gt=0, le=40)

    # Connect: where Stripe sends a specialist back after onboarding (or when the link
    # expired); unset, the platform's public URL.
    connect_return_url: str | None = None
    connect_refresh_url: str | None = None
    # The platform's fee on each destination charge, in hundredths of a percent.
    application_fee_bps: int = Field(1000, ge=0, le=10_000)
    # Whether a paid service may go on sale only once its specialist can take payouts.
    require_payouts: bool = True
