"""Zoom's event notifications: one endpoint that checks each delivery, then hands it on.

Every delivery is signed: ``x-zm-signature`` is ``v0=`` and the hex HMAC-SHA256, keyed with
the app's Secret Token, of ``v0:{x-zm-request-timestamp}:{raw body}``. A delivery with a
wrong signature or a stale timestamp is refused (401) before anything is read or stored.
``endpoint.url_validation`` is answered with the challenge's HMAC. Any other event is
remembered by its signature and by a digest of its content (Zoom sends no event id), so a
replayed or redelivered event is acknowledged and dropped, then handled by the module of
its kind (attendance, recordings, or the app's deauthorization here).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field, ValidationError
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from specialistly.core.clock import utcnow
from specialistly.core.events import OutboxEvent, new_event, update_with_events
from specialistly.infra.metrics.registry import OTHER
from specialistly_zoom import attendance, metrics, recordings
from specialistly_zoom.webhook_settings import Delivery, ZoomWebhookSettings

log = logging.getLogger("specialistly_zoom.webhooks")

WEBHOOK_PATH = "/plugins/zoom/webhooks"
URL_VALIDATION = "endpoint.url_validation"
APP_DEAUTHORIZED = "app_deauthorized"
# Emitted when a specialist removes the app from their Zoom account: whoever keeps their
# Zoom tokens deletes them (data: zoom_user_id, zoom_account_id).
ZOOM_DEAUTHORIZED = "zoom.deauthorized"


class ZoomWebhookReceipt(Document):
    """A delivery already handled: its signature and its content's digest are unique."""

    signature: str
    event_key: str
    event: str
    received_at: datetime
    expires_at: datetime
    outbox: list[OutboxEvent] = []

    class Settings:
        name = "zoom_webhook_receipts"
        indexes = [
            IndexModel([("signature", ASCENDING)], unique=True),
            IndexModel([("event_key", ASCENDING)], unique=True),
            IndexModel([("event", ASCENDING), ("expires_at", ASCENDING)]),
        ]


class Envelope(BaseModel):
    event: str = Field(min_length=1, max_length=100)
    payload: dict[str, Any]


class UrlValidation(BaseModel):
    plainToken: str = Field(min_length=1, max_length=256)  # noqa: N815 (Zoom's name)


class Deauthorized(BaseModel):
    account_id: str = Field(max_length=200)
    user_id: str = Field(min_length=1, max_length=200)


class Deauthorization(BaseModel):
    payload: Deauthorized


@dataclass(frozen=True)
class Handler:
    """How one kind of event is read (``model`` validates the whole body) and applied;
    ``apply`` returns the events to emit beside the delivery's receipt."""

    model: type[BaseModel]
    apply: Callable[[Any, Delivery], Awaitable[Sequence[OutboxEvent]]]


async def deauthorize(body: Deauthorization, delivery: Delivery) -> Sequence[OutboxEvent]:
    """Forget everything stored for the Zoom user, and ask for their tokens to go."""
    user = body.payload
    await attendance.forget_host(user.user_id)
    await recordings.forget_host(user.user_id)
    gone = new_event(ZOOM_DEAUTHORIZED, zoom_user_id=user.user_id, zoom_account_id=user.account_id)
    return [gone]


HANDLERS: dict[str, Handler] = {
    attendance.MEETING_STARTED: Handler(attendance.MeetingEvent, attendance.meeting_started),
    attendance.MEETING_ENDED: Handler(attendance.MeetingEvent, attendance.meeting_ended),
    attendance.PARTICIPANT_JOINED: Handler(
        attendance.ParticipantEvent, attendance.participant_joined
    ),
    attendance.PARTICIPANT_LEFT: Handler(attendance.ParticipantEvent, attendance.participant_left),
    recordings.RECORDING_COMPLETED: Handler(
        recordings.RecordingCompleted, recordings.recording_completed
    ),
    APP_DEAUTHORIZED: Handler(Deauthorization, deauthorize),
}


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    """The ``x-zm-signature`` Zoom sends for a body sent at `timestamp`."""
    return "v0=" + sign(secret, b"v0:" + timestamp.encode() + b":" + body)


def timestamp_is_fresh(timestamp: str, now: datetime, settings: ZoomWebhookSettings) -> bool:
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
        return False
    value = int(timestamp)
    seconds = value / 1000 if value >= 10**11 else value  # seconds, or milliseconds
    sent = datetime.fromtimestamp(seconds, UTC)
    return abs(now - sent) <= settings.timestamp_tolerance


def event_key(body: dict[str, Any]) -> str:
    """A digest of the event's content, the same however its JSON was laid out."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _status(status: str, code: int = 200) -> JSONResponse:
    return JSONResponse({"status": status}, status_code=code)


def endpoint(settings: ZoomWebhookSettings) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        if settings.secret_token is None:
            return _rejected("not_configured", "not configured", 503)
        secret = settings.secret_token.get_secret_value()
        body = await request.body()
        now = utcnow()
        timestamp = request.headers.get("x-zm-request-timestamp", "")
        signature = request.headers.get("x-zm-signature", "")
        if not hmac.compare_digest(
            signature.encode(), signature_of(secret, timestamp, body).encode()
        ):
            return _rejected("signature", "unauthorized", 401)
        if not timestamp_is_fresh(timestamp, now, settings):
            return _rejected("stale", "unauthorized", 401)
        try:
            raw = json.loads(body)
            envelope = Envelope.model_validate(raw)
        except (ValueError, RecursionError, ValidationError):
            return _rejected("malformed", "malformed", 400)
        known = envelope.event == URL_VALIDATION or envelope.event in HANDLERS
        metrics.WEBHOOKS_RECEIVED.labels(envelope.event if known else OTHER).inc()
        if envelope.event == URL_VALIDATION:
            return _url_validation(secret, envelope.payload)
        handler = HANDLERS.get(envelope.event)
        if handler is None:
            return _status("ignored")
        try:
            payload = handler.model.model_validate(raw)
        except ValidationError:
            log.warning("zoom %s delivery not understood", envelope.event)
            return _rejected("malformed", "malformed", 400)
        return await handle(envelope.event, raw, signature, payload, handler, now, settings)

    return receive


def _rejected(reason: str, status: str, code: int) -> JSONResponse:
    metrics.WEBHOOKS_REJECTED.labels(reason).inc()
    return _status(status, code)


def _url_validation(secret: str, payload: dict[str, Any]) -> Response:
    try:
        plain = UrlValidation.model_validate(payload).plainToken
    except ValidationError:
        return _rejected("malformed", "malformed", 400)
    return JSONResponse({"plainToken": plain, "encryptedToken": sign(secret, plain.encode())})


async def handle(
    event: str,
    raw: dict[str, Any],
    signature: str,
    payload: BaseModel,
    handler: Handler,
    now: datetime,
    settings: ZoomWebhookSettings,
) -> Response:
    """Handle a checked delivery once: remember it, apply it, forget it if that failed."""
    receipt = ZoomWebhookReceipt(
        signature=signature,
        event_key=event_key(raw),
        event=event,
        received_at=now,
        expires_at=now + settings.replay_window,
    )
    try:
        await receipt.insert()
    except DuplicateKeyError:
        return _rejected("replay", "duplicate", 200)
    try:
        emitted = await handler.apply(payload, Delivery(now, settings))
    except BaseException:
        # Not handled: forget the receipt so that Zoom's redelivery is handled.
        await ZoomWebhookReceipt.find_one({"_id": receipt.id}).delete()
        raise
    if emitted:
        await update_with_events(ZoomWebhookReceipt, {"_id": receipt.id}, {}, emitted)
    return _status("handled")


async def forget_old_receipts(now: datetime) -> None:
    """Drop the receipts past the replay window (older deliveries are refused as stale)."""
    collection = ZoomWebhookReceipt.get_pymongo_collection()
    for event in HANDLERS:
        await collection.delete_many({"event": event, "expires_at": {"$lt": now}})
