"""The GraphQL fields of the Zoom plugin: connect, see and disconnect a Zoom account.

No field ever returns a token or a code: the connection shows its status, the Zoom
account's email, the granted scopes, the access token's expiry and the last error.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.errors import UserError
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.users import Role
from specialistly_zoom.models import ZoomConnection
from specialistly_zoom.oauth import authorize_url, callback_url
from specialistly_zoom.provider import ZoomProvider


@strawberry.enum(name="ZoomConnectionStatus")
class ZoomConnectionStatusType(Enum):
    CONNECTED = "connected"
    REVOKED = "revoked"


@strawberry.type(
    name="ZoomConnection", description="A specialist's Zoom account, never its tokens."
)
class ZoomConnectionType:
    status: ZoomConnectionStatusType
    email: str
    scopes: list[str]
    missing_scopes: list[str] = strawberry.field(
        description="Scopes the plugin needs that the grant lacks: connect again to grant them."
    )
    expires_at: datetime | None = strawberry.field(description="When the access token expires.")
    revoked: bool
    revoked_at: datetime | None
    last_error: str | None
    connected_at: datetime

    @classmethod
    def of(cls, connection: ZoomConnection, needed: list[str]) -> ZoomConnectionType:
        return cls(
            status=ZoomConnectionStatusType(connection.status.value),
            email=connection.email,
            scopes=connection.scopes,
            missing_scopes=sorted(set(needed) - set(connection.scopes)),
            expires_at=connection.expires_at,
            revoked=connection.revoked_at is not None,
            revoked_at=connection.revoked_at,
            last_error=connection.last_error,
            connected_at=connection.connected_at,
        )


@strawberry.type
class ConnectZoomPayload:
    authorize_url: str | None = strawberry.field(
        default=None, description="Send the specialist here; valid once, for 10 minutes."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DisconnectZoomPayload:
    disconnected: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


def _provider(info: Info[Context, None]) -> ZoomProvider:
    provider = info.context.runtime.providers.video["zoom"]
    assert isinstance(provider, ZoomProvider)
    if not provider.settings.configured:
        raise DomainError.of(ErrorCode.INVALID, "Zoom is not configured on this platform.")
    return provider


@strawberry.type
class Query:
    @strawberry.field(description="The logged-in specialist's Zoom connection, if any.")
    async def zoom_connection(self, info: Info[Context, None]) -> ZoomConnectionType | None:
        user = await info.context.require_user(Role.SPECIALIST)
        connection = await ZoomConnection.get(user.id)
        if connection is None:
            return None
        return ZoomConnectionType.of(connection, _provider(info).settings.scopes)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Start connecting the specialist's Zoom account.")
    async def connect_zoom(self, info: Info[Context, None]) -> ConnectZoomPayload:
        user = await info.context.require_user(Role.SPECIALIST)
        connections = _provider(info).connections
        redirect = callback_url(info.context.runtime.settings.public_url)
        assert user.id is not None
        return ConnectZoomPayload(authorize_url=await authorize_url(connections, user.id, redirect))

    @strawberry.mutation(description="Revoke the grant at Zoom and delete its tokens.")
    async def disconnect_zoom(self, info: Info[Context, None]) -> DisconnectZoomPayload:
        user = await info.context.require_user(Role.SPECIALIST)
        assert user.id is not None
        if not await _provider(info).connections.disconnect(user.id):
            raise DomainError.of(ErrorCode.NOT_FOUND, "Zoom is not connected.")
        return DisconnectZoomPayload(disconnected=True)
