"""Platform settings, read from the environment (prefix ``SPECIALISTLY_``).

Each plugin reads its own settings class with its own prefix (see ``hookspecs.settings_class``).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MissingSecretError(RuntimeError):
    """A process that issues or checks tokens was started without SPECIALISTLY_JWT_SECRET."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SPECIALISTLY_", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = "development"
    public_url: str = "http://127.0.0.1:8000"

    mongodb_url: str = Field(
        "mongodb://127.0.0.1:27018/",
        validation_alias=AliasChoices("SPECIALISTLY_MONGODB_URL", "MONGODB_URL"),
    )
    database: str = "specialistly"
    redis_url: str = Field(
        "redis://127.0.0.1:6390/0",
        validation_alias=AliasChoices("SPECIALISTLY_REDIS_URL", "REDIS_URL"),
    )

    broker_namespace: str = "specialistly"
    sweep_interval: timedelta = timedelta(seconds=10)
    event_retry_delay: timedelta = timedelta(seconds=30)
    payment_hold: timedelta = timedelta(minutes=15)
    meeting_deadline: timedelta = timedelta(minutes=30)
    payment_provider: str = "stripe"
    # How long a process may keep what it read to show (core/read_cache.py): changes reach
    # every process at once through Redis, and this bounds an entry should that fail.
    read_cache_ttl: timedelta = Field(timedelta(seconds=60), ge=timedelta(0))

    # No default: a published default would let anyone sign tokens. `specialistly dev` keeps
    # a random one in its run directory; tests get a random one per process.
    jwt_secret: SecretStr | None = None
    access_token_ttl: timedelta = timedelta(hours=1)
    refresh_token_ttl: timedelta = timedelta(days=30)

    login_attempts_per_ip: int = 20
    login_window: timedelta = timedelta(minutes=15)
    # Login attempts for one account from one address (since its last success) before each
    # further one waits for the one before, twice as long each time, up to login_delay_max.
    login_free_attempts: int = 5
    login_delay_max: timedelta = timedelta(minutes=15)
    requests_per_minute_anonymous: int = 100
    requests_per_minute_user: int = 1000
    # Addresses (or CIDR ranges) of the reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; nobody's by default, so a client cannot pick its address.
    forwarded_allow_ips: list[str] = []
    request_body_max_bytes: int = Field(1024 * 1024, ge=1024)
    # How often an authenticated WebSocket checks that its session still lives.
    session_check_interval: timedelta = Field(timedelta(seconds=30), gt=timedelta(0))

    plugins_disabled: list[str] = []
    plugins_extra: list[str] = Field(
        default=[], description="Modules registered as plugins besides the entry points"
    )

    graphql_max_depth: int = 12
    graphql_max_tokens: int = 2000
    graphql_max_aliases: int = 30
    # The largest `first` a list accepts; at least 50, the largest default page size.
    page_size_max: int = Field(100, ge=50)
    # Estimated objects a request may produce (see api/cost.py); a slots window counts every
    # five-minute start in it, and a slot with its two local times is 3 objects: the default
    # allows one 62-day window at the finest grain, local times included.
    graphql_max_cost: int = Field(60_000, ge=1)
    # None: on everywhere except in production.
    graphql_introspection: bool | None = None

    # Email: which provider sends, from whom, and the brand the messages carry.
    email_provider: str = "smtp"
    email_sender: str = "Specialistly <no-reply@specialistly.localhost>"
    email_templates_dir: Path | None = None
    brand_name: str = "Specialistly"
    brand_logo_url: str | None = None
    brand_color: str = Field("#2f5bea", pattern=r"^#[0-9a-fA-F]{6}$")
    support_email: str = "support@specialistly.localhost"
    frontend_url: str = "http://127.0.0.1:3000"
    # How long a sender has to finish an email before another may send it (after a crash).
    email_send_lease: timedelta = Field(timedelta(minutes=2), gt=timedelta(0))
    # Account emails: how long their links work, and how many one client address and one
    # recipient may ask for (password resets, verification emails again) per window.
    email_verification_ttl: timedelta = Field(timedelta(days=2), gt=timedelta(0))
    password_reset_ttl: timedelta = Field(timedelta(minutes=30), gt=timedelta(0))
    account_emails_per_ip: int = Field(10, ge=1)
    account_emails_per_recipient: int = Field(3, ge=1)
    account_emails_window: timedelta = Field(timedelta(hours=1), gt=timedelta(0))
    reminder_customer_before: timedelta = Field(timedelta(hours=24), gt=timedelta(0))
    reminder_specialist_before: timedelta = Field(timedelta(hours=2), gt=timedelta(0))
    # Bearer token a scrape of /metrics must carry; unset: metrics are open in development
    # and test (loopback only) and off in production.
    metrics_token: SecretStr | None = None

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.access_token_ttl > timedelta(hours=24):
            raise ValueError("access_token_ttl must be at most 24 hours")
        if self.jwt_secret is None:
            if self.environment == "production":
                raise ValueError("SPECIALISTLY_JWT_SECRET must be set in production")
            if self.environment == "test":
                self.jwt_secret = SecretStr(secrets.token_urlsafe(32))
        elif len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("SPECIALISTLY_JWT_SECRET must be at least 32 characters")
        if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < 16:
            raise ValueError("SPECIALISTLY_METRICS_TOKEN must be at least 16 characters")
        if self.login_free_attempts < 1:
            raise ValueError("login_free_attempts must be at least 1")
        return self

    def signing_secret(self) -> str:
        """The secret that signs access tokens; MissingSecretError when it is not set."""
        if self.jwt_secret is None:
            raise MissingSecretError(
                "SPECIALISTLY_JWT_SECRET is not set: give it a random value of at least 32"
                " characters (`specialistly dev` makes one for local use)"
            )
        return self.jwt_secret.get_secret_value()

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def introspection(self) -> bool:
        if self.graphql_introspection is None:
            return self.environment != "production"
        return self.graphql_introspection
