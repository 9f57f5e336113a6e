"""Payout onboarding in GraphQL: a specialist's Stripe Express account and its link."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.errors import UserError
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.users import Role
from specialistly.providers import ProviderError
from specialistly_stripe import connect
from specialistly_stripe.settings import StripeSettings


@strawberry.type(name="PayoutAccount")
class PayoutAccountType:
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool


@strawberry.type
class OnboardingPayload:
    url: str | None = strawberry.field(
        default=None, description="Where the specialist sets up payouts with Stripe; one use."
    )
    expires_at: datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def payout_account(info: Info[Context, None]) -> PayoutAccountType | None:
    viewer = await info.context.require_user(Role.SPECIALIST)
    account = await connect.account_of(str(viewer.id))
    if account is None:
        return None
    return PayoutAccountType(
        charges_enabled=account.charges_enabled,
        payouts_enabled=account.payouts_enabled,
        details_submitted=account.details_submitted,
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Start (or finish) setting up payouts: a Stripe Express account and the"
        " link to its onboarding. Paid services go on sale once Stripe enables its payouts."
    )
    async def start_payout_onboarding(self, info: Info[Context, None]) -> OnboardingPayload:
        runtime = info.context.runtime
        viewer = await info.context.require_user(Role.SPECIALIST)
        settings = runtime.plugin_settings.of(StripeSettings)
        try:
            url, expires = await connect.onboarding_link(
                settings, str(viewer.id), viewer.email, runtime.settings.public_url
            )
        except ProviderError as exc:
            raise DomainError.of(
                ErrorCode.PAYMENT_UNAVAILABLE, "Stripe could not be reached; please try again."
            ) from exc
        return OnboardingPayload(url=url, expires_at=expires)
