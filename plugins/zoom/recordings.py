"""Cloud recordings of a booking's Zoom meeting, and the route that hands them to its parties.

``recording.completed`` brings the files and a download token Zoom makes for the delivery
(valid 24 hours). Each file becomes a record linked to the booking, the token is kept
encrypted with a key derived from the app's Secret Token, and ``recording.ready`` is
emitted for the files not known before. A party downloads a file through this platform's
route, which fetches it from Zoom and streams it on: no Zoom token reaches a client. Zoom
takes the delivery's download token for 24 hours; after that the file is fetched with the
host's own OAuth access token (their connection, refreshed as usual), so a recording
stays available for the whole retention while the specialist's Zoom is connected.
Records are kept for the configured retention, then a sweep deletes them.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated

import httpx
from beanie import Document, PydanticObjectId
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from specialistly.core.bookings import Booking, party
from specialistly.core.clock import utcnow
from specialistly.core.errors import DomainError
from specialistly.core.events import OutboxEvent, new_event, update_with_events
from specialistly.core.locks import document_lock
from specialistly.hookspecs import PluginRuntime
from specialistly.infra.auth import bearer_token
from specialistly.providers import ProviderError, UnknownProviderError
from specialistly_zoom import attendance
from specialistly_zoom.provider import ZoomProvider
from specialistly_zoom.webhook_settings import Delivery, ZoomWebhookSettings

log = logging.getLogger("specialistly_zoom.recordings")

RECORDING_COMPLETED = "recording.completed"
RECORDING_READY = "recording.ready"
RECORDINGS_PATH = "/plugins/zoom/recordings/{file_id}"
# Zoom's download_token is valid for 24 hours after the event.
DOWNLOAD_TOKEN_LIFETIME = timedelta(hours=24)
ZOOM = "zoom"  # the video provider whose connections hold the hosts' tokens
AVAILABLE = "available"
_UPSTREAM_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

_Text = Annotated[str, Field(max_length=300)]


# --------------------------------------------------------------------------- what Zoom sends


class RecordingFile(BaseModel):
    id: str = Field(min_length=1, max_length=100)
    recording_start: attendance.Instant = None
    recording_end: attendance.Instant = None
    recording_type: _Text = ""
    file_type: _Text = ""
    file_extension: _Text = ""
    file_size: int = Field(default=0, ge=0)
    play_url: str = Field(default="", max_length=2000)
    download_url: str = Field(min_length=1, max_length=2000)
    status: _Text = ""


class RecordingObject(attendance.MeetingRef):
    recording_files: list[RecordingFile] = Field(default_factory=list, max_length=200)


class RecordingPayload(BaseModel):
    object: RecordingObject


class RecordingCompleted(BaseModel):
    event_ts: int
    download_token: str = Field(default="", max_length=8000)
    payload: RecordingPayload


# --------------------------------------------------------------------------- stored


class ZoomRecording(Document):
    """One file of a booking's recorded meeting."""

    booking_id: PydanticObjectId
    meeting_id: str
    host_id: str
    file_id: str
    recording_type: str
    file_type: str
    file_extension: str
    size_bytes: int
    recording_start: datetime | None
    recording_end: datetime | None
    play_url: str
    download_url: str
    download_token: str  # encrypted (see `seal`)
    download_token_expires_at: datetime
    state: str = AVAILABLE
    created_at: datetime
    expires_at: datetime

    class Settings:
        name = "zoom_recordings"
        indexes = [
            IndexModel([("file_id", ASCENDING)], unique=True),
            IndexModel([("booking_id", ASCENDING)]),
            IndexModel([("host_id", ASCENDING)]),
            IndexModel([("state", ASCENDING), ("expires_at", ASCENDING)]),
        ]

    @property
    def duration_seconds(self) -> int | None:
        if self.recording_start is None or self.recording_end is None:
            return None
        return max(0, int((self.recording_end - self.recording_start).total_seconds()))


def _key(settings: ZoomWebhookSettings) -> bytes:
    assert settings.secret_token is not None
    secret = settings.secret_token.get_secret_value().encode()
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"zoom download tokens")
    return hkdf.derive(secret)


def seal(token: str, settings: ZoomWebhookSettings) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(settings)).encrypt(nonce, token.encode(), None)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(sealed: str, settings: ZoomWebhookSettings) -> str | None:
    """The token, or None if it cannot be read (the Secret Token changed since)."""
    raw = base64.urlsafe_b64decode(sealed)
    try:
        return AESGCM(_key(settings)).decrypt(raw[:12], raw[12:], None).decode()
    except InvalidTag:
        return None


# --------------------------------------------------------------------------- handlers


async def recording_completed(
    event: RecordingCompleted, delivery: Delivery
) -> Sequence[OutboxEvent]:
    meeting = event.payload.object
    found = await attendance.meeting_record(meeting)
    if found is None:
        return ()
    booking, record_of_meeting = found
    now = delivery.received_at
    files = [f for f in meeting.recording_files if f.status in ("", "completed")]
    sealed = seal(event.download_token, delivery.settings)
    collection = ZoomRecording.get_pymongo_collection()
    new_files = []
    for file in files:
        record = ZoomRecording(
            booking_id=booking.id,
            meeting_id=meeting.id,
            host_id=meeting.host_id,
            file_id=file.id,
            recording_type=file.recording_type,
            file_type=file.file_type,
            file_extension=file.file_extension,
            size_bytes=file.file_size,
            recording_start=file.recording_start,
            recording_end=file.recording_end,
            play_url=file.play_url,
            download_url=file.download_url,
            download_token=sealed,
            download_token_expires_at=now + DOWNLOAD_TOKEN_LIFETIME,
            created_at=now,
            expires_at=now + delivery.settings.recording_retention,
        )
        fields = record.model_dump(exclude={"id", "revision_id"})
        # Told again (with a fresh download token, say), a file is updated, not announced.
        written = await collection.update_one({"file_id": file.id}, {"$set": fields}, upsert=True)
        if written.upserted_id is not None:
            new_files.append(file.id)
    if new_files:
        ready = new_event(RECORDING_READY, booking_id=str(booking.id), file_ids=new_files)
        async with document_lock(attendance.ZoomMeetingRecord, record_of_meeting.id):
            await update_with_events(
                attendance.ZoomMeetingRecord,
                {"booking_id": booking.id},
                {"$set": {"recordings_ready_at": now}},
                [ready],
            )
    return ()


async def forget_host(host_id: str) -> None:
    """Delete every recording record of a Zoom user's meetings."""
    await ZoomRecording.get_pymongo_collection().delete_many({"host_id": host_id})


async def delete_expired(now: datetime) -> None:
    """The retention sweep: records past their retention go."""
    await ZoomRecording.get_pymongo_collection().delete_many(
        {"state": AVAILABLE, "expires_at": {"$lt": now}}
    )


async def of_booking(booking_id: PydanticObjectId) -> list[ZoomRecording]:
    found = await ZoomRecording.find({"booking_id": booking_id}).to_list()
    return sorted(found, key=lambda r: (r.recording_start or r.created_at, r.file_id))


def download_path(file_id: str) -> str:
    return RECORDINGS_PATH.format(file_id=file_id)


# --------------------------------------------------------------------------- the route


def _refuse(status: str, code: int) -> JSONResponse:
    return JSONResponse({"status": status}, status_code=code)


def download_route(settings: ZoomWebhookSettings) -> Callable[[Request], Awaitable[Response]]:
    async def download(request: Request) -> Response:
        runtime = request.app.state.runtime
        token = bearer_token(request)
        if token is None:
            return _refuse("unauthenticated", 401)
        try:
            viewer = (await runtime.tokens.identify(token)).user
        except DomainError:
            return _refuse("unauthenticated", 401)
        recording = await ZoomRecording.find_one({"file_id": request.path_params["file_id"]})
        booking = await Booking.get(recording.booking_id) if recording else None
        if recording is None or booking is None or party(booking, viewer) is None:
            return _refuse("not found", 404)  # a stranger learns nothing of the file
        zoom_token = await _zoom_token(runtime, recording, booking, settings)
        if zoom_token is None:
            return _refuse("download no longer available", 410)
        return await _stream(recording, zoom_token)

    return download


async def _zoom_token(
    runtime: PluginRuntime,
    recording: ZoomRecording,
    booking: Booking,
    settings: ZoomWebhookSettings,
) -> str | None:
    """The delivery's download token while Zoom takes it, else the host's access token;
    None if there is neither."""
    token = unseal(recording.download_token, settings)
    if token is not None and recording.download_token_expires_at > utcnow():
        return token
    try:
        provider = runtime.providers.video[ZOOM]
    except UnknownProviderError:
        return None
    if not isinstance(provider, ZoomProvider):
        return None
    try:
        return await provider.connections.access_token(booking.specialist_id)
    except ProviderError as exc:  # not configured, not connected, revoked, Zoom away
        log.info("recording %s: no host token (%s)", recording.file_id, type(exc).__name__)
        return None


async def _stream(recording: ZoomRecording, zoom_token: str) -> Response:
    client = httpx.AsyncClient(timeout=_UPSTREAM_TIMEOUT, follow_redirects=True)
    try:
        upstream = await client.send(
            client.build_request(
                "GET", recording.download_url, headers={"Authorization": f"Bearer {zoom_token}"}
            ),
            stream=True,
        )
    except httpx.HTTPError as exc:
        await client.aclose()
        log.warning("recording %s: Zoom unreachable (%s)", recording.file_id, type(exc).__name__)
        return _refuse("recording unavailable", 502)
    if upstream.status_code != 200:
        await upstream.aclose()
        await client.aclose()
        log.warning("recording %s: Zoom answered %s", recording.file_id, upstream.status_code)
        return _refuse("recording unavailable", 502)

    async def close() -> None:
        await upstream.aclose()
        await client.aclose()

    stem = re.sub(r"[^A-Za-z0-9_-]", "", recording.file_id)
    extension = re.sub(r"[^a-z0-9]", "", recording.file_extension.lower()) or "bin"
    name = f"{stem}.{extension}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if "content-length" in upstream.headers and "content-encoding" not in upstream.headers:
        headers["Content-Length"] = upstream.headers["content-length"]
    return StreamingResponse(
        _chunks(upstream),
        media_type=upstream.headers.get("content-type", "application/octet-stream"),
        headers=headers,
        background=BackgroundTask(close),
    )


async def _chunks(upstream: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in upstream.aiter_bytes():
        yield chunk
