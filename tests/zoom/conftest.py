"""The Zoom fake on loopback and a Zoom provider pointed at it, with short waits."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
import pytest_asyncio
from pydantic import SecretStr

from specialistly.runtime import Runtime
from specialistly_zoom.crypto import new_key
from specialistly_zoom.provider import ZoomProvider
from specialistly_zoom.settings import ZoomSettings
from tests.zoom_fake import ZoomFake, run


@pytest.fixture
def zoom() -> Iterator[ZoomFake]:
    fake = ZoomFake(client_id=f"client-{secrets.token_hex(4)}", client_secret=secrets.token_hex(16))
    yield from run(fake)
    assert fake.violations == [], "the plugin or the fake drifted from Zoom's API documents"


def settings_for(fake: ZoomFake, **changes: object) -> ZoomSettings:
    base: dict[str, object] = {
        "client_id": fake.client_id,
        "client_secret": SecretStr(fake.client_secret),
        "oauth_url": fake.url,
        "api_url": f"{fake.url}/v2",
        "token_keys": [SecretStr(new_key())],
        "retry_delays": [0.01, 0.02, 0.03],
        "rate_limit_wait": timedelta(milliseconds=50),
        "request_timeout": timedelta(seconds=1),
        "creation_interval": timedelta(0),
    }
    return ZoomSettings(**{**base, **changes})  # type: ignore[arg-type]


@pytest.fixture
def zoom_settings(zoom: ZoomFake) -> ZoomSettings:
    return settings_for(zoom)


@pytest_asyncio.fixture(loop_scope="session")
async def provider(zoom_settings: ZoomSettings, runtime: Runtime) -> AsyncIterator[ZoomProvider]:
    zoom_provider = ZoomProvider(zoom_settings)
    yield zoom_provider
    await zoom_provider.aclose()
