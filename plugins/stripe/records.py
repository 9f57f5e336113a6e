"""Which booking and specialist each PaymentIntent belongs to, so that events about its
charge, refunds and disputes (which carry no booking) find them."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from specialistly.core.clock import utcnow


class StripePayment(Document):
    intent_id: str
    booking_id: str
    specialist_id: str
    charge_id: str | None = None  # known once it succeeded
    destination: str | None = None  # the connected account of a destination charge
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "stripe_payments"
        indexes = [
            IndexModel([("intent_id", ASCENDING)], unique=True),
            IndexModel([("charge_id", ASCENDING)]),
        ]


async def remember(
    intent_id: str, booking_id: str, specialist_id: str, destination: str | None = None
) -> None:
    """Note the PaymentIntent of a booking (again, harmlessly, on a retried request)."""
    await StripePayment.get_pymongo_collection().update_one(
        {"intent_id": intent_id},
        {
            "$setOnInsert": {
                "booking_id": booking_id,
                "specialist_id": specialist_id,
                "charge_id": None,
                "destination": destination,
                "created_at": utcnow(),
            }
        },
        upsert=True,
    )


async def find(intent_id: str | None = None, charge_id: str | None = None) -> StripePayment | None:
    """The payment of the PaymentIntent, or else of the charge."""
    found = None
    if intent_id:
        found = await StripePayment.find_one(StripePayment.intent_id == intent_id)
    if found is None and charge_id:
        found = await StripePayment.find_one(StripePayment.charge_id == charge_id)
    return found


async def note_charge(intent_id: str, charge_id: str) -> None:
    await StripePayment.get_pymongo_collection().update_one(
        {"intent_id": intent_id}, {"$set": {"charge_id": charge_id}}
    )
