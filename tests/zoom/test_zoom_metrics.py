"""What the Zoom plugin counts, by reason: failed creations and failed refreshes (the
whole way to /metrics is in test_flow)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from beanie import PydanticObjectId

from specialistly.core.clock import utcnow
from specialistly.infra.metrics.registry import REGISTRY
from specialistly.providers import ProviderError
from specialistly_zoom.models import ZoomConnection
from specialistly_zoom.provider import ZoomProvider
from tests.factories import make_specialist
from tests.zoom.connecting import connect
from tests.zoom.test_meetings import request_for
from tests.zoom_fake import ZoomFake

pytestmark = pytest.mark.asyncio(loop_scope="session")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def failures(reason: str) -> float:
    return sample("specialistly_zoom_meeting_failures_total", reason=reason)


async def connected(zoom: ZoomFake, provider: ZoomProvider) -> PydanticObjectId:
    zoom.add_user("counted@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None
    await connect(provider, specialist.id)
    return specialist.id


async def test_creations_are_counted_and_failures_by_reason(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id = await connected(zoom, provider)
    created = sample("specialistly_zoom_meetings_created_total")
    timed = sample("specialistly_zoom_meeting_creation_seconds_count")
    daily, unavailable = failures("daily_limit"), failures("unavailable")

    zoom.fail("api", "429-daily")
    with pytest.raises(ProviderError):
        await provider.create_meeting(request_for(specialist_id))
    zoom.fail("api", "503", times=4)  # the first try and its three retries
    with pytest.raises(ProviderError):
        await provider.create_meeting(request_for(specialist_id))
    await provider.create_meeting(request_for(specialist_id))

    assert failures("daily_limit") == daily + 1 and failures("unavailable") == unavailable + 1
    assert sample("specialistly_zoom_meetings_created_total") == created + 1
    assert sample("specialistly_zoom_meeting_creation_seconds_count") == timed + 1


async def test_refreshes_are_counted_and_refused_grants_apart(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id = await connected(zoom, provider)
    expired = {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    refreshes = sample("specialistly_zoom_token_refreshes_total")
    revoked = sample("specialistly_zoom_token_refresh_failures_total", reason="revoked")

    await ZoomConnection.get_pymongo_collection().update_one({"_id": specialist_id}, expired)
    await provider.connections.access_token(specialist_id)
    await ZoomConnection.get_pymongo_collection().update_one({"_id": specialist_id}, expired)
    zoom.fail("token", "invalid_grant")
    with pytest.raises(ProviderError):
        await provider.connections.access_token(specialist_id)

    assert sample("specialistly_zoom_token_refreshes_total") == refreshes + 1
    assert sample("specialistly_zoom_token_refresh_failures_total", reason="revoked") == revoked + 1
