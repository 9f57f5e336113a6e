"""The Zoom video provider: one scheduled meeting per booking, on the specialist's account.

Creating is idempotent per booking: the plugin notes the booking (state ``creating``)
before it calls Zoom and writes the booking's marker into the meeting's agenda, so a try
that follows a crash between "Zoom created it" and "we stored it" finds the meeting among
the specialist's upcoming meetings instead of creating a second one.

The host link (``start_url``) is never stored: it carries the host's key and Zoom lets it
expire after two hours, so the specialist gets a fresh one from ``GET /meetings/{id}`` each
time they ask (see ``providers.FreshHostLinks``). Joining by the join link while signed in
to Zoom as the host starts the meeting as well, which is what the emails give.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC
from typing import Any

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from specialistly.core.clock import utcnow
from specialistly.core.locks import document_lock
from specialistly.providers import MeetingDetails, MeetingRequest, ProviderError
from specialistly_zoom import metrics
from specialistly_zoom.client import ZoomAuthError, ZoomHTTP
from specialistly_zoom.connections import Connections
from specialistly_zoom.crypto import TokenCipher
from specialistly_zoom.models import ConnectionStatus, MeetingState, ZoomConnection, ZoomMeeting
from specialistly_zoom.settings import ZoomSettings

log = logging.getLogger("specialistly_zoom.provider")

SCHEDULED = 2


def marker(booking_id: str) -> str:
    return f"specialistly-booking:{booking_id}"


def meeting_body(request: MeetingRequest) -> dict[str, Any]:
    return {
        "topic": request.topic[:200],
        "type": SCHEDULED,
        "start_time": request.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": request.duration_minutes,
        "timezone": request.timezone,
        "agenda": marker(request.booking_id),
        "settings": {
            "waiting_room": True,
            "join_before_host": False,
            "host_video": True,
            "participant_video": True,
            "auto_recording": request.auto_recording,
        },
    }


class NotConfiguredError(ProviderError):
    def __init__(self) -> None:
        super().__init__("the Zoom plugin is not configured", transient=False)


class ZoomProvider:
    name = "zoom"
    display_name = "Zoom"

    def __init__(self, settings: ZoomSettings) -> None:
        self.settings = settings
        self._connections: Connections | None = None

    @property
    def connections(self) -> Connections:
        """Built on first use (the HTTP client binds to the loop that uses it)."""
        if not self.settings.configured:
            raise NotConfiguredError()
        if self._connections is None:
            keys = [key.get_secret_value() for key in self.settings.token_keys]
            self._connections = Connections(
                self.settings, ZoomHTTP(self.settings), TokenCipher(keys)
            )
        return self._connections

    async def ready_to_host(self, specialist_id: str) -> bool:
        """Connected, with a grant Zoom still honours (as far as the plugin knows) that
        carries every scope the plugin needs (the needed ones may grow after connecting)."""
        if not self.settings.configured or not PydanticObjectId.is_valid(specialist_id):
            return False
        connection = await ZoomConnection.get(PydanticObjectId(specialist_id))
        if connection is None or connection.status != ConnectionStatus.CONNECTED:
            return False
        return set(self.settings.scopes) <= set(connection.scopes)

    async def aclose(self) -> None:
        if self._connections is not None:
            await self._connections.http.aclose()
            self._connections = None

    # ------------------------------------------------------------------- calls

    async def _call(
        self, specialist_id: PydanticObjectId, method: str, path: str, **kw: Any
    ) -> Any:
        connections = self.connections
        token = await connections.access_token(specialist_id)
        try:
            return await connections.http.api(method, path, token, **kw)
        except ZoomAuthError:
            token = await connections.access_token(specialist_id, refused=token)
            try:
                return await connections.http.api(method, path, token, **kw)
            except ZoomAuthError:
                raise ProviderError("Zoom refused a fresh access token", transient=False) from None

    async def _find(
        self, specialist_id: PydanticObjectId, booking_id: str
    ) -> dict[str, Any] | None:
        """The upcoming meeting carrying the booking's marker, if an earlier try made one."""
        wanted = marker(booking_id)
        page_token = ""
        while True:
            params: dict[str, str | int] = {"type": "upcoming", "page_size": 300}
            if page_token:
                params["next_page_token"] = page_token
            response = await self._call(specialist_id, "GET", "/users/me/meetings", params=params)
            if response.status_code != 200:
                return None
            body = response.json()
            for meeting in body.get("meetings", []):
                if str(meeting.get("agenda", "")).startswith(wanted):
                    return dict(meeting)
            page_token = body.get("next_page_token") or ""
            if not page_token:
                return None

    # ------------------------------------------------------------------- provider

    async def create_meeting(self, request: MeetingRequest) -> MeetingDetails:
        with metrics.creation():
            return await self._create_meeting(request)

    async def _create_meeting(self, request: MeetingRequest) -> MeetingDetails:
        booking_id = PydanticObjectId(request.booking_id)
        specialist_id = PydanticObjectId(request.specialist_id)
        record = await self._note(booking_id, specialist_id)
        if record.state == MeetingState.CREATED:
            return self._details(record)
        if record.attempts > 0:  # an earlier try may have created it before stopping
            found = await self._find(specialist_id, request.booking_id)
            if found is not None:
                full = await self._call(specialist_id, "GET", f"/meetings/{found['id']}")
                return await self._store(
                    booking_id, full.json() if full.status_code == 200 else found
                )
        await _update(booking_id, {"$inc": {"attempts": 1}})
        slot = await self.connections.pace(specialist_id)
        wait = (slot - utcnow()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)
        response = await self._call(
            specialist_id, "POST", "/users/me/meetings", json=meeting_body(request)
        )
        if response.status_code != 201:
            raise ProviderError(
                f"Zoom did not create the meeting (HTTP {response.status_code})", transient=False
            )
        return await self._store(booking_id, response.json())

    async def reschedule_meeting(
        self, meeting: MeetingDetails, request: MeetingRequest
    ) -> MeetingDetails:
        specialist_id = PydanticObjectId(request.specialist_id)
        body = meeting_body(request)
        patch = {key: body[key] for key in ("start_time", "duration", "timezone")}
        path = f"/meetings/{meeting.external_id}"
        response = await self._call(specialist_id, "PATCH", path, json=patch)
        if response.status_code == 404:
            # Deleted at Zoom meanwhile: make a new one rather than update a ghost.
            await _update(
                PydanticObjectId(request.booking_id),
                {"$set": {"state": MeetingState.CREATING.value, "meeting_id": None}},
            )
            return await self.create_meeting(request)
        return meeting

    async def cancel_meeting(self, meeting: MeetingDetails) -> None:
        record = await ZoomMeeting.find_one(ZoomMeeting.meeting_id == int(meeting.external_id))
        if record is None or record.state == MeetingState.DELETED:
            return
        path = f"/meetings/{meeting.external_id}"
        await self._call(record.specialist_id, "DELETE", path)  # 404: already gone, fine
        assert record.id is not None
        await _update(
            record.id, {"$set": {"state": MeetingState.DELETED.value, "updated_at": utcnow()}}
        )

    async def fresh_host_url(self, meeting: MeetingDetails, specialist_id: str) -> str | None:
        if not self.settings.configured or not PydanticObjectId.is_valid(specialist_id):
            return None
        if not meeting.external_id.isdigit():
            return None
        path = f"/meetings/{meeting.external_id}"
        try:
            response = await self._call(PydanticObjectId(specialist_id), "GET", path, retry=False)
        except ProviderError as exc:
            log.warning("no host link for Zoom meeting %s: %s", meeting.external_id, exc)
            return None
        if response.status_code != 200:
            return None  # deleted at Zoom meanwhile
        return str(response.json().get("start_url") or "") or None

    # ------------------------------------------------------------------- records

    async def _note(
        self, booking_id: PydanticObjectId, specialist_id: PydanticObjectId
    ) -> ZoomMeeting:
        record = await ZoomMeeting.get(booking_id)
        if record is not None:
            return record
        try:
            return await ZoomMeeting(id=booking_id, specialist_id=specialist_id).insert()
        except DuplicateKeyError:
            record = await ZoomMeeting.get(booking_id)
            assert record is not None
            return record

    async def _store(self, booking_id: PydanticObjectId, meeting: dict[str, Any]) -> MeetingDetails:
        record = await ZoomMeeting.get(booking_id)
        assert record is not None
        fields = {
            "state": MeetingState.CREATED.value,
            "meeting_id": int(meeting["id"]),
            "uuid": meeting.get("uuid"),
            "join_url": str(meeting.get("join_url", "")),
            "updated_at": utcnow(),
        }
        await _update(booking_id, {"$set": fields})
        return self._details(record.model_copy(update=fields))

    def _details(self, record: ZoomMeeting) -> MeetingDetails:
        return MeetingDetails(
            provider=self.name, external_id=str(record.meeting_id), join_url=record.join_url or ""
        )


async def _update(booking_id: PydanticObjectId, update: dict[str, Any]) -> None:
    """Write a meeting's record holding its lock, as rekeying does (see core/locks.py)."""
    async with document_lock(ZoomMeeting, booking_id):
        await ZoomMeeting.get_pymongo_collection().update_one({"_id": booking_id}, update)
