"""What the Zoom plugin stores: each specialist's connection, pending OAuth states, and the
Zoom meeting of each booking (found by booking or by Zoom meeting id)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from specialistly.core.clock import utcnow
from specialistly.core.events import OutboxEvent

ZOOM_DISCONNECTED = "zoom.disconnected"


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    REVOKED = "revoked"  # Zoom refused the grant: the specialist must connect again


class ZoomConnection(Document):
    """A specialist's grant; ``id`` is the specialist's user id. Tokens are ciphertexts
    (see crypto.py), bound to the specialist, and never leave the plugin."""

    id: PydanticObjectId
    status: ConnectionStatus = ConnectionStatus.CONNECTED
    zoom_user_id: str = ""
    email: str = ""
    scopes: list[str] = []
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None
    connected_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_error: str | None = None
    refreshed_at: datetime | None = None
    outbox: list[OutboxEvent] = []

    class Settings:
        name = "zoom_connections"


class ZoomPacing(Document):
    """A specialist's next free moment for a meeting creation. Kept apart from the
    connection: FerretDB writes a whole document per update, so pacing under its own lock
    would otherwise overwrite a refresh's new tokens with the ones it read before."""

    id: PydanticObjectId
    next_creation_at: datetime

    class Settings:
        name = "zoom_pacing"


class ZoomOAuthState(Document):
    """A pending authorization, by the SHA-256 of its state (the state itself is only in
    the authorize URL). Deleted when used: a state works once."""

    id: str  # type: ignore[assignment]
    specialist_id: PydanticObjectId
    code_verifier: str  # encrypted
    expires_at: datetime

    class Settings:
        name = "zoom_oauth_states"


class MeetingState(StrEnum):
    CREATING = "creating"  # a creation may be under way at Zoom
    CREATED = "created"
    DELETED = "deleted"


class ZoomMeeting(Document):
    """The Zoom meeting of one booking; ``id`` is the booking id, ``meeting_id`` Zoom's
    (indexed, for webhooks). The host link is not kept: it is fetched when asked for."""

    id: PydanticObjectId
    specialist_id: PydanticObjectId
    state: MeetingState = MeetingState.CREATING
    meeting_id: int | None = None
    uuid: str | None = None
    join_url: str | None = None
    password: str | None = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "zoom_meetings"
        indexes = [
            IndexModel([("meeting_id", ASCENDING)]),
            IndexModel([("specialist_id", ASCENDING)]),
        ]


DOCUMENTS: tuple[type[Document], ...] = (ZoomConnection, ZoomPacing, ZoomOAuthState, ZoomMeeting)
