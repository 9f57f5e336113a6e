"""Stripe webhook deliveries signed exactly as Stripe signs them (``Stripe-Signature``:
``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``).

The event envelopes and objects are Stripe's own fixture shapes (``stripe_fixtures.json``,
copied from ``stripe/openapi``'s fixtures3.json) with the fields a test sets; Stripe
publishes no per-type sample payloads, so these bodies are built here, not Stripe's.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any

STRIPE_WEBHOOK_SECRET = "whsec_test_specialistly"
STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_test_specialistly_connect"
_FIXTURES: dict[str, Any] = json.loads((Path(__file__).parent / "stripe_fixtures.json").read_text())


def fixture(resource: str, **changes: Any) -> dict[str, Any]:
    """A copy of Stripe's fixture of `resource` with `changes` applied."""
    obj: dict[str, Any] = copy.deepcopy(_FIXTURES[resource])
    obj.update(changes)
    return obj


def event(type: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An event envelope of Stripe's shape carrying `obj`."""
    return fixture(
        "event",
        id=event_id or f"evt_{secrets.token_hex(12)}",
        type=type,
        created=int(time.time()),
        data={"object": obj},
        livemode=False,
    )


def intent_event(
    type: str,
    intent_id: str,
    booking_id: str,
    amount: int,
    currency: str,
    **changes: Any,
) -> dict[str, Any]:
    status = {"payment_intent.succeeded": "succeeded"}.get(type, "requires_payment_method")
    values: dict[str, Any] = {
        "id": intent_id,
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": currency,
        "status": status,
        "metadata": {"booking_id": booking_id},
        "last_payment_error": None,
    }
    intent = fixture("payment_intent", **{**values, **changes})
    return event(type, intent)


def sign(body: bytes, secret: str = STRIPE_WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header of a delivery of `body`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def delivery(event_body: dict[str, Any], **sign_args: Any) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers Stripe would POST for the event."""
    body = json.dumps(event_body, separators=(",", ":")).encode()
    return body, {"stripe-signature": sign(body, **sign_args), "content-type": "application/json"}
