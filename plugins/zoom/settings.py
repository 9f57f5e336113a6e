"""The Zoom plugin's settings (environment prefix ``SPECIALISTLY_ZOOM_``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Zoom's granular scopes for exactly the calls the plugin makes (api-hub meetings and users
# endpoints): create, read, list (to find a meeting an interrupted try made), update and
# delete meetings, and read the user itself.
DEFAULT_SCOPES = (
    "meeting:write:meeting",
    "meeting:read:meeting",
    "meeting:read:list_meetings",
    "meeting:update:meeting",
    "meeting:delete:meeting",
    "user:read:user",
)


class ZoomSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPECIALISTLY_ZOOM_", extra="ignore")

    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    oauth_url: str = "https://zoom.us"
    api_url: str = "https://api.zoom.us/v2"
    frontend_url: str = "http://127.0.0.1:3000/settings/zoom"
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    # Base64 (url-safe) 32-byte keys, newest first: the first encrypts, every one decrypts.
    token_keys: list[SecretStr] = Field(default_factory=list)
    request_timeout: timedelta = timedelta(seconds=10)
    retry_delays: list[float] = Field(default_factory=lambda: [1.0, 5.0, 15.0])
    rate_limit_wait: timedelta = timedelta(seconds=60)
    refresh_margin: timedelta = timedelta(minutes=5)
    creation_interval: timedelta = timedelta(seconds=5)

    @field_validator("oauth_url", "api_url", "frontend_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret.get_secret_value() and self.token_keys)
