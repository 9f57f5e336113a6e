"""Connecting a specialist's Zoom account: the authorize URL and the callback's exchange.

The state is 32 random bytes, stored only as its SHA-256 with the specialist it was made
for, usable once, for 10 minutes; the PKCE verifier (S256) is stored encrypted beside it.
A missing, reused, expired or unknown state, or an error from Zoom, stores nothing.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from beanie import PydanticObjectId

from specialistly.core.clock import as_utc, utcnow
from specialistly.core.locks import document_lock
from specialistly.providers import ProviderError
from specialistly_zoom.client import ZoomGrantError
from specialistly_zoom.connections import Connections, granted_scopes, missing_scopes
from specialistly_zoom.models import ConnectionStatus, ZoomConnection, ZoomOAuthState

STATE_TTL = timedelta(minutes=10)
CALLBACK_PATH = "/plugins/zoom/oauth/callback"


def callback_url(public_url: str) -> str:
    return f"{public_url.rstrip('/')}{CALLBACK_PATH}"


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def authorize_url(
    connections: Connections, specialist_id: PydanticObjectId, redirect_uri: str
) -> str:
    """Where to send the specialist to grant access; remembers a fresh state for them."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    await ZoomOAuthState(
        id=_hash(state),
        specialist_id=specialist_id,
        code_verifier=connections.cipher.encrypt(verifier, context=f"zoom-state:{_hash(state)}"),
        expires_at=utcnow() + STATE_TTL,
    ).insert()
    query = {
        "response_type": "code",
        "client_id": connections.settings.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    return f"{connections.settings.oauth_url}/oauth/authorize?{urlencode(query)}"


class CallbackRefusedError(Exception):
    """Why a callback stored nothing; ``reason`` is a short code for the frontend."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Connected:
    specialist_id: PydanticObjectId
    email: str


async def _consume_state(state: str | None) -> tuple[ZoomOAuthState, str]:
    if not state:
        raise CallbackRefusedError("invalid_state")
    raw = await ZoomOAuthState.get_pymongo_collection().find_one_and_delete({"_id": _hash(state)})
    if raw is None:  # unknown, or used already
        raise CallbackRefusedError("invalid_state")
    pending = ZoomOAuthState.model_validate(raw)
    if as_utc(pending.expires_at) <= utcnow():
        raise CallbackRefusedError("expired_state")
    return pending, _hash(state)


async def complete(
    connections: Connections,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    redirect_uri: str,
) -> Connected:
    """Exchange the callback's code for tokens and store the connection."""
    pending, hashed = await _consume_state(state)  # used up, whatever happens next
    if error or not code:
        raise CallbackRefusedError("denied")
    verifier = connections.cipher.decrypt(pending.code_verifier, context=f"zoom-state:{hashed}")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    try:
        body = await connections.http.token(form)
    except ZoomGrantError:
        raise CallbackRefusedError("invalid_grant") from None
    except ProviderError:
        raise CallbackRefusedError("zoom_unavailable") from None
    if missing_scopes(connections.settings, granted_scopes(body)):
        await connections.http.revoke(str(body["access_token"]))
        raise CallbackRefusedError("missing_scopes")
    me = await connections.http.api("GET", "/users/me", str(body["access_token"]))
    if me.status_code != 200:
        raise CallbackRefusedError("zoom_unavailable")
    user = me.json()
    specialist_id = pending.specialist_id
    fields = {
        **connections.token_fields(specialist_id, body),
        "status": ConnectionStatus.CONNECTED.value,
        "zoom_user_id": str(user.get("id", "")),
        "email": str(user.get("email", "")),
        "connected_at": utcnow(),
        "revoked_at": None,
    }
    async with document_lock(ZoomConnection, specialist_id):  # a refresh may be writing it
        await ZoomConnection.get_pymongo_collection().update_one(
            {"_id": specialist_id},
            {"$set": fields, "$setOnInsert": {"outbox": []}},
            upsert=True,
        )
    return Connected(specialist_id=specialist_id, email=fields["email"])
