"""SendGrid's signed Event Webhook: what became of each message.

SendGrid signs the timestamp header followed by the raw body with ECDSA P-256 over SHA-256
and sends the DER signature base64-encoded. A request whose signature does not verify
against the configured public key is refused with 403 and nothing of it is stored. A
verified one records delivered, deferred, bounced, blocked, dropped and spam report events
on the email they are about (an event seen twice, by its ``sg_event_id``, once); a hard
bounce or a spam report suppresses further non-essential mail to the address. SendGrid
states no timestamp tolerance; a replayed request records nothing new.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from specialistly.features import deliveries
from specialistly.features.outgoing import Delivery, DeliveryReport
from specialistly_sendgrid.settings import SendgridSettings

log = logging.getLogger("specialistly_sendgrid.webhook")

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
PATH = "/plugins/sendgrid/events"


def verify(public_key: str, signature: str, timestamp: str, payload: bytes) -> bool:
    """Whether `signature` signs `timestamp` + `payload` with the key (base64 DER)."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key, validate=True))
        der = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(der, timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def delivery_of(event: dict[str, Any]) -> Delivery | None:
    kind = event.get("event")
    if kind == "bounce":
        return Delivery.BLOCKED if event.get("type") == "blocked" else Delivery.BOUNCED
    return {
        "delivered": Delivery.DELIVERED,
        "deferred": Delivery.DEFERRED,
        "dropped": Delivery.DROPPED,
        "spamreport": Delivery.SPAM_REPORT,
    }.get(str(kind))


def handler(settings: SendgridSettings) -> Any:
    async def events(request: Request) -> Response:
        payload = await request.body()
        signature = request.headers.get(SIGNATURE_HEADER, "")
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        key = settings.webhook_public_key
        if not key or not verify(key, signature, timestamp, payload):
            return JSONResponse({"error": "bad signature"}, status_code=403)
        try:
            batch = json.loads(payload)
        except ValueError:
            return JSONResponse({"error": "not JSON"}, status_code=400)
        recorded = 0
        for event in batch if isinstance(batch, list) else []:
            if isinstance(event, dict):
                recorded += await _record(event)
        return JSONResponse({"recorded": recorded})

    return events


async def _record(event: dict[str, Any]) -> int:
    status = delivery_of(event)
    message = str(event.get("sg_message_id") or "")
    if status is None or not message or not event.get("sg_event_id"):
        return 0
    when = event.get("timestamp")
    at = datetime.fromtimestamp(when, UTC) if isinstance(when, int) else datetime.now(UTC)
    report = DeliveryReport(
        key=str(event["sg_event_id"]),
        status=status,
        at=at,
        reason=str(event.get("reason") or "")[:500] or None,
    )
    # sg_message_id is the X-Message-Id of the send, then a dot and SendGrid's own suffix.
    found = await deliveries.report(
        "sendgrid", message.split(".", 1)[0], str(event.get("email") or ""), report
    )
    return 1 if found is not None else 0
