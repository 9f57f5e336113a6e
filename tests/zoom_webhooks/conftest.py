"""An API server with the Zoom webhooks' Secret Token, and with the Zoom plugin pointed at
a Zoom fake (so that a recording can be fetched with its host's token), for this
package's tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from pydantic import SecretStr

from specialistly_zoom.crypto import new_key
from specialistly_zoom.provider import ZoomProvider
from specialistly_zoom.settings import ZoomSettings
from tests.servers import serve
from tests.zoom_fake import ZoomFake, run
from tests.zoom_webhooks.deliveries import SECRET


@pytest.fixture(scope="package")
def zoom_fake() -> Iterator[ZoomFake]:
    fake = ZoomFake(client_id=f"client-{secrets.token_hex(4)}", client_secret=secrets.token_hex(16))
    yield from run(fake)
    assert fake.violations == [], "the plugin or the fake drifted from Zoom's API documents"


@pytest.fixture(scope="package")
def host_zoom_settings(zoom_fake: ZoomFake) -> ZoomSettings:
    """The Zoom settings of the package's API server."""
    return ZoomSettings(
        client_id=zoom_fake.client_id,
        client_secret=SecretStr(zoom_fake.client_secret),
        oauth_url=zoom_fake.url,
        api_url=f"{zoom_fake.url}/v2",
        token_keys=[SecretStr(new_key())],
    )


@pytest.fixture(scope="package")
def zoom_api(
    test_env: dict[str, str],
    host_zoom_settings: ZoomSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    zoom = host_zoom_settings
    env = {
        **test_env,
        "SPECIALISTLY_ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        "SPECIALISTLY_ZOOM_CLIENT_ID": zoom.client_id,
        "SPECIALISTLY_ZOOM_CLIENT_SECRET": zoom.client_secret.get_secret_value(),
        "SPECIALISTLY_ZOOM_OAUTH_URL": zoom.oauth_url,
        "SPECIALISTLY_ZOOM_API_URL": zoom.api_url,
        "SPECIALISTLY_ZOOM_TOKEN_KEYS": f'["{zoom.token_keys[0].get_secret_value()}"]',
    }
    yield from serve(env, tmp_path_factory.mktemp("zoom-api"), "zoom-api")


@pytest_asyncio.fixture(loop_scope="session")
async def host_provider(host_zoom_settings: ZoomSettings) -> AsyncIterator[ZoomProvider]:
    """The Zoom provider as the API server has it, to connect hosts from the tests."""
    provider = ZoomProvider(host_zoom_settings)
    yield provider
    await provider.aclose()
