"""Tokens are refreshed before they expire, once at a time per specialist across every
process; a grant Zoom refuses revokes the connection and says so with an event."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from datetime import timedelta

import pytest
from beanie import PydanticObjectId

from specialistly.core.clock import utcnow
from specialistly.providers import ProviderError
from specialistly.settings import Settings
from specialistly_zoom.connections import NotConnectedError
from specialistly_zoom.models import ZOOM_DISCONNECTED, ConnectionStatus, ZoomConnection
from specialistly_zoom.provider import ZoomProvider
from specialistly_zoom.settings import ZoomSettings
from tests.factories import make_specialist
from tests.processes import ROOT
from tests.zoom.connecting import connect
from tests.zoom.test_meetings import request_for
from tests.zoom_fake import ZoomFake

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def expired_connection(zoom: ZoomFake, provider: ZoomProvider) -> PydanticObjectId:
    zoom.add_user("refresh@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None
    await connect(provider, specialist.id)
    zoom.expire_access_tokens()
    await ZoomConnection.get_pymongo_collection().update_one(
        {"_id": specialist.id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    return specialist.id


async def test_a_token_about_to_expire_is_refreshed_first(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    zoom.add_user("soon@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None
    await connect(provider, specialist.id)
    soon = utcnow() + provider.settings.refresh_margin / 2
    await ZoomConnection.get_pymongo_collection().update_one(
        {"_id": specialist.id}, {"$set": {"expires_at": soon}}
    )

    token = await provider.connections.access_token(specialist.id)

    assert zoom.refreshes == 1 and token == zoom.grants[-1].access_token


async def test_a_token_zoom_refuses_is_refreshed_once_and_the_call_repeated(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    zoom.add_user("refused@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None
    await connect(provider, specialist.id)
    zoom.expire_access_tokens()  # Zoom expired it earlier than it said

    await provider.create_meeting(request_for(specialist.id))

    assert zoom.refreshes == 1 and zoom.creations == 1


async def test_fifty_creations_with_an_expired_token_refresh_it_once(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id = await expired_connection(zoom, provider)

    await asyncio.gather(*(provider.create_meeting(request_for(specialist_id)) for _ in range(50)))

    assert zoom.refreshes == 1 and zoom.creations == 50


async def test_one_refresh_across_processes(
    zoom: ZoomFake, zoom_settings: ZoomSettings, provider: ZoomProvider, settings: Settings
) -> None:
    specialist_id = await expired_connection(zoom, provider)
    env = {**os.environ, **_environment(settings, zoom_settings)}
    start_at = f"{time.time() + 6:.3f}"  # every process starts its creations together
    counts = (17, 17, 16)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.zoom.refresh_burst",
            str(specialist_id),
            str(n),
            start_at,
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for n in counts
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 120)

    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()[-2000:]
    assert [out.decode().strip() for out, _ in outputs] == [f"created {n}" for n in counts]
    assert zoom.refreshes == 1 and zoom.creations == 50


def _environment(settings: Settings, zoom_settings: ZoomSettings) -> dict[str, str]:
    keys = ",".join(f'"{k.get_secret_value()}"' for k in zoom_settings.token_keys)
    return {
        "MONGODB_URL": settings.mongodb_url,
        "REDIS_URL": settings.redis_url,
        "SPECIALISTLY_DATABASE": settings.database,
        "SPECIALISTLY_JWT_SECRET": "x" * 40,
        "SPECIALISTLY_ZOOM_CLIENT_ID": zoom_settings.client_id,
        "SPECIALISTLY_ZOOM_CLIENT_SECRET": zoom_settings.client_secret.get_secret_value(),
        "SPECIALISTLY_ZOOM_OAUTH_URL": zoom_settings.oauth_url,
        "SPECIALISTLY_ZOOM_API_URL": zoom_settings.api_url,
        "SPECIALISTLY_ZOOM_TOKEN_KEYS": f"[{keys}]",
        "SPECIALISTLY_ZOOM_CREATION_INTERVAL": "PT0S",
    }


async def test_a_refused_grant_revokes_the_connection_and_says_so(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id = await expired_connection(zoom, provider)
    zoom.fail("token", "invalid_grant")

    with pytest.raises(ProviderError) as failed:
        await provider.create_meeting(request_for(specialist_id))

    assert not failed.value.transient
    stored = await ZoomConnection.get(specialist_id)
    assert stored is not None and stored.status == ConnectionStatus.REVOKED
    assert stored.access_token is None and stored.refresh_token is None
    assert stored.revoked_at is not None and stored.last_error
    assert [e.name for e in stored.outbox] == [ZOOM_DISCONNECTED]
    with pytest.raises(NotConnectedError):  # no further call reaches Zoom
        await provider.connections.access_token(specialist_id)
    assert zoom.refreshes == 0 and zoom.creations == 0


async def test_no_token_or_code_reaches_the_logs(
    zoom: ZoomFake, provider: ZoomProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    specialist_id = await expired_connection(zoom, provider)
    zoom.fail("api", "503")
    await provider.create_meeting(request_for(specialist_id))
    zoom.expire_access_tokens()
    zoom.fail("token", "invalid_grant")
    with pytest.raises(ProviderError):
        await provider.create_meeting(request_for(specialist_id))

    secrets_seen = [
        s for grant in zoom.grants for s in (grant.access_token, grant.refresh_token)
    ] + [zoom.client_secret]
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert caplog.records  # the flow did log
    assert not [s for s in secrets_seen if s in logged]


async def test_a_revoked_connection_cannot_host_until_connected_again(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id = await expired_connection(zoom, provider)
    assert await provider.ready_to_host(str(specialist_id))
    zoom.fail("token", "invalid_grant")
    with pytest.raises(ProviderError):
        await provider.connections.access_token(specialist_id)

    assert not await provider.ready_to_host(str(specialist_id))
    await connect(provider, specialist_id)
    assert await provider.ready_to_host(str(specialist_id))


@pytest.mark.parametrize("kind", ["4741", "4735"])
async def test_zooms_grant_codes_revoke_the_connection(
    zoom: ZoomFake, provider: ZoomProvider, kind: str
) -> None:
    specialist_id = await expired_connection(zoom, provider)
    zoom.fail("token", kind)

    with pytest.raises(NotConnectedError):
        await provider.connections.access_token(specialist_id)

    stored = await ZoomConnection.get(specialist_id)
    assert stored is not None and stored.status == ConnectionStatus.REVOKED


async def test_a_refused_client_keeps_the_grant(zoom: ZoomFake, provider: ZoomProvider) -> None:
    """A wrong client secret is the platform's mistake: the specialist keeps their grant."""
    specialist_id = await expired_connection(zoom, provider)
    zoom.fail("token", "invalid_client")

    with pytest.raises(ProviderError) as failed:
        await provider.connections.access_token(specialist_id)

    assert not isinstance(failed.value, NotConnectedError)
    stored = await ZoomConnection.get(specialist_id)
    assert stored is not None and stored.status == ConnectionStatus.CONNECTED
    assert stored.refresh_token is not None
