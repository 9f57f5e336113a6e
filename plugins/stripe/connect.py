"""Stripe Connect (Express): each specialist's connected account, its onboarding link, and
what ``account.updated`` says it may do. A paid booking of a specialist whose account can
take charges becomes a destination charge, with the platform's application fee."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import stripe
from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from specialistly.core.clock import utcnow
from specialistly.providers import ProviderError
from specialistly_stripe.client import failure, stripe_client
from specialistly_stripe.settings import StripeSettings


class StripeAccount(Document):
    specialist_id: str
    account_id: str
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "stripe_accounts"
        indexes = [
            IndexModel([("specialist_id", ASCENDING)], unique=True),
            IndexModel([("account_id", ASCENDING)], unique=True),
        ]

    @property
    def ready(self) -> bool:
        return self.charges_enabled and self.payouts_enabled


async def account_of(specialist_id: str) -> StripeAccount | None:
    return await StripeAccount.find_one(StripeAccount.specialist_id == specialist_id)


async def onboarding_link(
    settings: StripeSettings, specialist_id: str, email: str, public_url: str
) -> tuple[str, datetime]:
    """The address where the specialist sets up (or finishes) their Express account, and
    when it stops working; the account is made on the first call."""
    account = await account_of(specialist_id) or await _create_account(
        settings, specialist_id, email
    )
    base = public_url.rstrip("/")
    params: Any = {
        "account": account.account_id,
        "type": "account_onboarding",
        "return_url": settings.connect_return_url or base,
        "refresh_url": settings.connect_refresh_url or base,
    }
    try:
        client = stripe_client(settings)
        link = await client.v1.account_links.create_async(params)
    except stripe.StripeError as exc:
        raise failure(exc) from exc
    return link.url, datetime.fromtimestamp(link.expires_at, UTC)


async def _create_account(
    settings: StripeSettings, specialist_id: str, email: str
) -> StripeAccount:
    params: Any = {
        "type": "express",
        "email": email,
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        "metadata": {"specialist_id": specialist_id},
    }
    try:
        client = stripe_client(settings)
        # One account per specialist, even when two requests race.
        created = await client.v1.accounts.create_async(
            params, {"idempotency_key": f"specialist-{specialist_id}-account"}
        )
    except stripe.StripeError as exc:
        raise failure(exc) from exc
    account = StripeAccount(specialist_id=specialist_id, account_id=created.id)
    try:
        return await account.insert()
    except DuplicateKeyError:
        found = await account_of(specialist_id)
        if found is None:
            raise ProviderError("the Stripe account could not be stored", transient=True) from None
        return found


async def account_updated(obj: dict[str, Any]) -> bool:
    """Track what the account may do; False if it is no specialist's."""
    changed = await StripeAccount.get_pymongo_collection().update_one(
        {"account_id": obj["id"]},
        {
            "$set": {
                "charges_enabled": bool(obj.get("charges_enabled")),
                "payouts_enabled": bool(obj.get("payouts_enabled")),
                "details_submitted": bool(obj.get("details_submitted")),
                "updated_at": utcnow(),
            }
        },
    )
    return bool(changed.matched_count)


def application_fee(amount: int, basis_points: int) -> int:
    """The platform's fee in minor units of the charge's currency, rounded down: the same
    rule for JPY (no decimals), EUR (two) and KWD (three)."""
    return amount * basis_points // 10_000
