"""Each specialist's Zoom grant: a fresh access token on demand, refreshed once at a time.

Zoom rotates the refresh token on every refresh, so two concurrent refreshes of one grant
can destroy it. A refresh therefore runs under the connection's lock in the database
(shared by every API and worker process), and whoever waited for the lock reads the
connection again and uses the token just refreshed. A refused grant (``invalid_grant``,
Zoom's 47xx codes) marks the connection revoked and announces ``zoom.disconnected``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from beanie import PydanticObjectId

from specialistly.core.clock import as_utc, utcnow
from specialistly.core.events import new_event, update_with_events
from specialistly.core.locks import document_lock
from specialistly.providers import ProviderError
from specialistly_zoom import metrics
from specialistly_zoom.client import ZoomGrantError, ZoomHTTP
from specialistly_zoom.crypto import TokenCipher
from specialistly_zoom.models import (
    ZOOM_DISCONNECTED,
    ConnectionStatus,
    ZoomConnection,
    ZoomPacing,
)
from specialistly_zoom.settings import ZoomSettings

log = logging.getLogger("specialistly_zoom.connections")

# Waiting behind another process's refresh is cheap; a refresh itself takes one request.
REFRESH_WAIT = timedelta(seconds=60)


class NotConnectedError(ProviderError):
    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


def granted_scopes(body: dict[str, Any]) -> list[str]:
    return sorted(set(str(body.get("scope", "")).split()))


def missing_scopes(settings: ZoomSettings, granted: list[str]) -> list[str]:
    return sorted(set(settings.scopes) - set(granted))


class Connections:
    def __init__(self, settings: ZoomSettings, http: ZoomHTTP, cipher: TokenCipher) -> None:
        self.settings = settings
        self.http = http
        self.cipher = cipher

    # ------------------------------------------------------------------- tokens

    def seal(self, specialist_id: PydanticObjectId, token: str) -> str:
        return self.cipher.encrypt(token, context=f"zoom:{specialist_id}")

    def open(self, specialist_id: PydanticObjectId, sealed: str) -> str:
        return self.cipher.decrypt(sealed, context=f"zoom:{specialist_id}")

    def token_fields(self, specialist_id: PydanticObjectId, body: dict[str, Any]) -> dict[str, Any]:
        """The stored fields of a token response."""
        expires_in = int(body.get("expires_in", 3600))
        return {
            "access_token": self.seal(specialist_id, str(body["access_token"])),
            "refresh_token": self.seal(specialist_id, str(body["refresh_token"])),
            "expires_at": utcnow() + timedelta(seconds=expires_in),
            "scopes": granted_scopes(body),
            "last_error": None,
        }

    def _fresh(self, connection: ZoomConnection) -> bool:
        if connection.access_token is None or connection.expires_at is None:
            return False
        return as_utc(connection.expires_at) - self.settings.refresh_margin > utcnow()

    async def _usable(self, specialist_id: PydanticObjectId) -> ZoomConnection:
        connection = await ZoomConnection.get(specialist_id)
        if connection is None:
            raise NotConnectedError("the specialist has not connected Zoom")
        if connection.status != ConnectionStatus.CONNECTED:
            raise NotConnectedError("the specialist's Zoom connection was revoked")
        return connection

    async def access_token(
        self, specialist_id: PydanticObjectId, *, refused: str | None = None
    ) -> str:
        """A valid access token, refreshing it first if it expires soon or if Zoom just
        refused it (``refused``, the token it refused)."""
        connection = await self._usable(specialist_id)
        if self._fresh(connection) and not self._is(connection, refused):
            return self.open(specialist_id, connection.access_token or "")
        async with document_lock(ZoomConnection, specialist_id, wait=REFRESH_WAIT):
            connection = await self._usable(specialist_id)  # another process may have refreshed
            if not self._fresh(connection) or self._is(connection, refused):
                connection = await self._refresh(connection)
            return self.open(specialist_id, connection.access_token or "")

    def _is(self, connection: ZoomConnection, token: str | None) -> bool:
        if token is None or connection.access_token is None:
            return False
        return self.open(connection.id, connection.access_token) == token

    async def _refresh(self, connection: ZoomConnection) -> ZoomConnection:
        if connection.refresh_token is None:
            raise NotConnectedError("the specialist's Zoom connection has no refresh token")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.open(connection.id, connection.refresh_token),
        }
        try:
            body = await self.http.token(form, retry=False)
        except ZoomGrantError as exc:
            metrics.TOKEN_REFRESH_FAILURES.labels("revoked").inc()
            await self.revoke_locally(connection.id, f"Zoom refused the grant: {exc}")
            raise NotConnectedError("Zoom refused the specialist's grant") from None
        except ProviderError:
            metrics.TOKEN_REFRESH_FAILURES.labels("unavailable").inc()
            raise
        metrics.TOKEN_REFRESHES.inc()
        fields = {**self.token_fields(connection.id, body), "refreshed_at": utcnow()}
        await ZoomConnection.get_pymongo_collection().update_one(
            {"_id": connection.id}, {"$set": fields}
        )
        log.info("zoom token refreshed", extra={"specialist_id": str(connection.id)})
        refreshed: ZoomConnection = connection.model_copy(update=fields)
        return refreshed

    # ------------------------------------------------------------------- revocation

    async def revoke_locally(self, specialist_id: PydanticObjectId, reason: str) -> bool:
        """Forget the tokens of a grant Zoom no longer honours; announce it once."""
        return await _revoke(specialist_id, reason, {})

    async def disconnect(self, specialist_id: PydanticObjectId) -> bool:
        """Revoke the grant at Zoom (best effort) and delete the tokens; False if there
        was no connection."""
        connection = await ZoomConnection.get(specialist_id)
        if connection is None:
            return False
        for sealed in (connection.access_token, connection.refresh_token):
            if sealed is not None:
                try:
                    await self.http.revoke(self.open(specialist_id, sealed))
                    break  # revoking one token of a grant revokes the grant
                except ProviderError as exc:
                    log.warning("zoom revoke failed: %s", exc)
        await ZoomConnection.get_pymongo_collection().delete_one({"_id": specialist_id})
        await ZoomPacing.get_pymongo_collection().delete_one({"_id": specialist_id})
        return True

    async def pace(self, specialist_id: PydanticObjectId) -> datetime:
        """Reserve this specialist's next creation moment (one per ``creation_interval``)."""
        interval = self.settings.creation_interval
        await self._usable(specialist_id)
        async with document_lock(ZoomPacing, specialist_id, wait=REFRESH_WAIT):
            pacing = await ZoomPacing.get(specialist_id)
            now = utcnow()
            slot = max(now, as_utc(pacing.next_creation_at)) if pacing else now
            await ZoomPacing.get_pymongo_collection().update_one(
                {"_id": specialist_id}, {"$set": {"next_creation_at": slot + interval}}, upsert=True
            )
        return slot


REMOVED_AT_ZOOM = "The Zoom app was removed from the Zoom account; connect Zoom again."


async def forget_zoom_user(zoom_user_id: str) -> int:
    """Delete the tokens, the Zoom identity and the pacing of every connection to the Zoom
    user who removed the app, and announce ``zoom.disconnected`` (the specialist is told
    to connect again); safe to repeat. Returns how many connections were forgotten.

    What stays is the platform's own record that the connection was revoked, which
    ``zoomConnection`` shows. Each write holds the lock its document's other writers hold
    (a refresh, a pacing), so that none of them writes the tokens back."""
    if not zoom_user_id:
        return 0
    found = ZoomConnection.find({"zoom_user_id": zoom_user_id})
    forgotten = 0
    for connection in await found.to_list():
        zoom_data: dict[str, Any] = {
            "zoom_user_id": "",
            "email": "",
            "scopes": [],
            "expires_at": None,
        }
        async with document_lock(ZoomConnection, connection.id, wait=REFRESH_WAIT):
            if await _revoke(connection.id, REMOVED_AT_ZOOM, zoom_data, zoom_user_id):
                forgotten += 1
        async with document_lock(ZoomPacing, connection.id, wait=REFRESH_WAIT):
            await ZoomPacing.get_pymongo_collection().delete_one({"_id": connection.id})
        log.info("zoom app removed by the user", extra={"specialist_id": str(connection.id)})
    return forgotten


async def _revoke(
    specialist_id: PydanticObjectId,
    reason: str,
    forget: dict[str, Any],
    zoom_user_id: str | None = None,
) -> bool:
    """Mark a connection revoked without its tokens (and the `forget` fields), announcing
    ``zoom.disconnected`` once; the caller holds the connection's lock."""
    match: dict[str, Any] = {"_id": specialist_id}
    if zoom_user_id is not None:
        match["zoom_user_id"] = zoom_user_id
    else:
        match["status"] = ConnectionStatus.CONNECTED.value
    event = new_event(ZOOM_DISCONNECTED, specialist_id=str(specialist_id), reason=reason)
    changes = {
        "status": ConnectionStatus.REVOKED.value,
        "access_token": None,
        "refresh_token": None,
        "revoked_at": utcnow(),
        "last_error": reason[:300],
        **forget,
    }
    changed = await update_with_events(ZoomConnection, match, {"$set": changes}, [event])
    if changed:
        log.warning("zoom grant revoked", extra={"specialist_id": str(specialist_id)})
    return changed
