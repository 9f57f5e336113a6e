"""The Jitsi Meet plugin: a video provider whose meetings are unguessable room links."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from pydantic import HttpUrl
from pydantic_settings import BaseSettings, SettingsConfigDict

from specialistly.hookspecs import PluginSettings, hookimpl
from specialistly.providers import MeetingDetails, MeetingRequest, VideoProvider


class JitsiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPECIALISTLY_JITSI_", extra="ignore")

    server_url: HttpUrl = HttpUrl("https://meet.jit.si")
    room_prefix: str = "specialistly"


class JitsiProvider:
    name = "jitsi"
    display_name = "Jitsi Meet"

    def __init__(self, settings: JitsiSettings) -> None:
        self._server = str(settings.server_url).rstrip("/")
        self._prefix = settings.room_prefix

    async def create_meeting(self, request: MeetingRequest) -> MeetingDetails:
        # 128 random bits: the link is the only key to the room, so it must not be guessable.
        room = f"{self._prefix}-{secrets.token_hex(16)}"
        url = f"{self._server}/{room}"
        return MeetingDetails(provider=self.name, external_id=room, join_url=url, host_url=url)

    async def reschedule_meeting(
        self, meeting: MeetingDetails, request: MeetingRequest
    ) -> MeetingDetails:
        """A room has no time: the link stays valid."""
        return meeting

    async def cancel_meeting(self, meeting: MeetingDetails) -> None:
        """Jitsi rooms exist only while someone is in them: there is nothing to delete."""


@hookimpl
def settings_class() -> type[BaseSettings]:
    return JitsiSettings


@hookimpl
def video_providers(plugin_settings: PluginSettings) -> Sequence[VideoProvider]:
    return [JitsiProvider(plugin_settings.of(JitsiSettings))]
