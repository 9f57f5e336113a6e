"""Connecting Zoom: the state works once, for ten minutes, for the specialist it was made
for; PKCE and HTTP Basic client auth; refusals store nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from specialistly.core.clock import utcnow
from specialistly.runtime import Runtime
from specialistly_zoom import oauth
from specialistly_zoom.crypto import TokenCipher, new_key
from specialistly_zoom.models import ConnectionStatus, ZoomConnection, ZoomOAuthState
from specialistly_zoom.provider import ZoomProvider
from specialistly_zoom.rekey import rekey
from tests.factories import make_specialist
from tests.zoom.connecting import REDIRECT, connect, consent
from tests.zoom_fake import ZoomFake

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_connecting_stores_encrypted_tokens_and_the_account(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    zoom_user = zoom.add_user("ada@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None

    connected = await connect(provider, specialist.id)

    assert connected.email == "ada@zoom.example"
    stored = await ZoomConnection.get(specialist.id)
    assert stored is not None and stored.status == ConnectionStatus.CONNECTED
    assert stored.zoom_user_id == zoom_user.id
    assert set(provider.settings.scopes) <= set(stored.scopes)
    grant = zoom.grants[-1]
    raw = await ZoomConnection.get_pymongo_collection().find_one({"_id": specialist.id})
    assert grant.access_token not in str(raw) and grant.refresh_token not in str(raw)
    assert await provider.connections.access_token(specialist.id) == grant.access_token


async def test_the_state_is_stored_hashed_and_works_once(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    zoom.add_user("once@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None
    query = await consent(provider, specialist.id)
    assert len(query["state"]) >= 43  # 32 random bytes
    assert await ZoomOAuthState.get(query["state"]) is None  # only its hash is stored

    await oauth.complete(
        provider.connections,
        state=query["state"],
        code=query["code"],
        error=None,
        redirect_uri=REDIRECT,
    )
    with pytest.raises(oauth.CallbackRefusedError) as refused:
        await oauth.complete(
            provider.connections,
            state=query["state"],
            code=query["code"],
            error=None,
            redirect_uri=REDIRECT,
        )
    assert refused.value.reason == "invalid_state"
    assert zoom.code_exchanges == 1


@pytest.mark.parametrize("case", ["missing", "unknown", "expired", "denied", "bad_code"])
async def test_a_refused_callback_stores_nothing(
    zoom: ZoomFake, provider: ZoomProvider, case: str
) -> None:
    zoom.add_user("refused@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None
    query = await consent(provider, specialist.id)
    state, code, error = query["state"], query["code"], None
    if case == "missing":
        state = ""
    elif case == "unknown":
        state = "x" * 43
    elif case == "expired":
        await ZoomOAuthState.get_pymongo_collection().update_many(
            {"specialist_id": specialist.id},
            {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}},
        )
    elif case == "denied":
        error = "access_denied"
    else:
        code = "not-a-code"

    with pytest.raises(oauth.CallbackRefusedError):
        await oauth.complete(
            provider.connections, state=state, code=code, error=error, redirect_uri=REDIRECT
        )

    assert await ZoomConnection.get(specialist.id) is None


async def test_a_grant_without_the_needed_scopes_is_refused_and_revoked(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    zoom.add_user("narrow@zoom.example")
    zoom.grant_scopes = ["user:read:user", "meeting:write:meeting"]
    specialist = await make_specialist()
    assert specialist.id is not None

    with pytest.raises(oauth.CallbackRefusedError) as refused:
        await connect(provider, specialist.id)

    assert refused.value.reason == "missing_scopes"
    assert await ZoomConnection.get(specialist.id) is None
    assert zoom.grants[-1].revoked


async def test_disconnecting_revokes_at_zoom_and_deletes_the_tokens(
    zoom: ZoomFake, provider: ZoomProvider, runtime: Runtime
) -> None:
    zoom.add_user("bye@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None
    await connect(provider, specialist.id)

    assert await provider.connections.disconnect(specialist.id)

    assert zoom.grants[-1].revoked and zoom.revocations == 1
    assert await ZoomConnection.get(specialist.id) is None


async def test_rekeying_moves_every_token_to_the_newest_key(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    zoom.add_user("rekey@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None
    await connect(provider, specialist.id)
    old = provider.settings.token_keys[0].get_secret_value()
    rotated = TokenCipher([new_key(), old])

    assert (await rekey(rotated)).changed >= 2
    raw = await ZoomConnection.get_pymongo_collection().find_one({"_id": specialist.id})
    assert raw is not None
    for field in ("access_token", "refresh_token"):
        assert rotated.is_current(raw[field])
        opened = rotated.decrypt(raw[field], context=f"zoom:{specialist.id}")
        assert opened in (zoom.grants[-1].access_token, zoom.grants[-1].refresh_token)
    assert (await rekey(rotated)).changed == 0  # nothing left on the old key
