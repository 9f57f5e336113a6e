"""The webhook endpoint: Stripe's signed notices, each stored once, turned into payment
reports (core/payments).

A delivery is verified before anything is stored (a bad signature answers 400). Each
event id is stored once; a delivery of an event already handled changes nothing. The
reports themselves are idempotent and order-free (a failure after a success is ignored,
a success after the hold was released is refunded), so events may arrive in any order.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import stripe
from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from specialistly.core.clock import utcnow
from specialistly.core.errors import DomainError
from specialistly_stripe.reactions import NotYetKnownError, handle
from specialistly_stripe.settings import StripeSettings

log = logging.getLogger("specialistly_stripe.webhooks")

PATH = "/plugins/stripe/webhooks"


class StripeEvent(Document):
    """One Stripe event as received: stored once per id, with what handling it did."""

    event_id: str
    type: str
    object_id: str | None = None
    booking_id: str | None = None
    livemode: bool = False
    created: datetime  # when Stripe made it
    received_at: datetime = Field(default_factory=utcnow)
    outcome: str | None = None  # None until handled (a delivery that failed is handled again)
    handled_at: datetime | None = None

    class Settings:
        name = "stripe_events"
        indexes = [IndexModel([("event_id", ASCENDING)], unique=True)]


async def _stored(event: dict[str, Any]) -> StripeEvent:
    """The event's record, stored now unless an earlier delivery stored it."""
    obj = event.get("data", {}).get("object", {})
    record = StripeEvent(
        event_id=event["id"],
        type=event["type"],
        object_id=obj.get("id"),
        booking_id=(obj.get("metadata") or {}).get("booking_id"),
        livemode=bool(event.get("livemode")),
        created=datetime.fromtimestamp(int(event.get("created", 0)), UTC),
    )
    try:
        return await record.insert()
    except DuplicateKeyError:
        found = await StripeEvent.find_one(StripeEvent.event_id == event["id"])
        assert found is not None
        return found


def _verify(text: str, header: str | None, secrets: list[str], tolerance: int) -> None:
    """Pass if the delivery is signed with any of the endpoints' secrets (the account's
    endpoint and the Connect endpoint each have their own), within the tolerance."""
    problem: stripe.SignatureVerificationError | None = None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, tolerance)
        except stripe.SignatureVerificationError as exc:
            problem = exc
        else:
            return
    assert problem is not None
    raise problem


def endpoint(settings: StripeSettings) -> Any:
    given = (settings.webhook_secret, settings.connect_webhook_secret)
    secrets = [secret.get_secret_value() for secret in given if secret is not None]

    async def receive(request: Request) -> Response:
        payload = await request.body()
        if not secrets:
            log.error("refused a Stripe webhook delivery: no webhook secret is configured")
            return JSONResponse({"error": "invalid signature or payload"}, status_code=400)
        try:
            text = payload.decode("utf-8")
            header = request.headers.get("stripe-signature")
            _verify(text, header, secrets, settings.webhook_tolerance)
            event = json.loads(text)
            if not isinstance(event["data"]["object"], dict) or not event["id"]:
                raise ValueError("not an event")
        except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError) as exc:
            log.warning("refused a Stripe webhook delivery: %s", exc)
            return JSONResponse({"error": "invalid signature or payload"}, status_code=400)
        record = await _stored(event)
        if record.outcome is not None:
            return JSONResponse({"received": True, "outcome": "duplicate"})
        try:
            outcome = await handle(event, settings)
        except (DomainError, NotYetKnownError) as exc:
            # The booking is being changed, or the event came before the one it depends on:
            # Stripe delivers it again later, and the record stays open until then.
            log.info("Stripe event %s to be delivered again: %s", event["id"], exc)
            return JSONResponse({"error": "deliver again later"}, status_code=503)
        await StripeEvent.get_pymongo_collection().update_one(
            {"_id": record.id, "outcome": None},
            {"$set": {"outcome": outcome.value, "handled_at": utcnow()}},
        )
        return JSONResponse({"received": True, "outcome": outcome.value})

    return receive
