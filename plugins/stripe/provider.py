"""The payment provider: PaymentIntents through Stripe's official library.

PaymentIntents rather than Checkout Sessions: the mobile SDKs (and Stripe.js's Payment
Element) confirm a PaymentIntent with its client secret inside the app, and a booking
needs nothing of a hosted page but the payment.
"""

from __future__ import annotations

from typing import Any

import stripe

from specialistly.providers import PaymentRequest, PaymentSession, RefundRequest
from specialistly_stripe import connect, records
from specialistly_stripe.client import close_clients, failure, stripe_client
from specialistly_stripe.settings import StripeSettings


class StripeProvider:
    name = "stripe"
    display_name = "Stripe"

    def __init__(self, settings: StripeSettings) -> None:
        self._settings = settings

    async def create_payment(self, request: PaymentRequest) -> PaymentSession:
        params: Any = {
            "amount": request.amount,
            "currency": request.currency,
            "automatic_payment_methods": {"enabled": True},
            "description": request.description,
            "receipt_email": request.customer_email,
            "metadata": {"booking_id": request.booking_id, "specialist_id": request.specialist_id},
        }
        account = await connect.account_of(request.specialist_id)
        destination = account.account_id if account and account.charges_enabled else None
        if destination:
            # A destination charge: the specialist's account gets it, less the platform's fee.
            params["transfer_data"] = {"destination": destination}
            fee = connect.application_fee(request.amount, self._settings.application_fee_bps)
            params["application_fee_amount"] = fee
        try:
            client = stripe_client(self._settings)
            intent = await client.v1.payment_intents.create_async(
                params, {"idempotency_key": request.idempotency_key}
            )
        except stripe.StripeError as exc:
            raise failure(exc) from exc
        await records.remember(intent.id, request.booking_id, request.specialist_id, destination)
        return PaymentSession(
            provider=self.name,
            external_id=intent.id,
            client_secret=intent.client_secret,
            status=intent.status,
            publishable_key=self._settings.publishable_key,
        )

    async def cancel_payment(self, external_id: str) -> None:
        try:
            client = stripe_client(self._settings)
            await client.v1.payment_intents.cancel_async(external_id)
        except stripe.InvalidRequestError as exc:
            if exc.code != "payment_intent_unexpected_state":
                raise failure(exc) from exc
            # Already paid (its success is refunded when reported) or already cancelled.
        except stripe.StripeError as exc:
            raise failure(exc) from exc

    async def aclose(self) -> None:
        await close_clients()

    async def payout_problem(self, specialist_id: str) -> str | None:
        if not self._settings.require_payouts:
            return None
        account = await connect.account_of(specialist_id)
        if account is None:
            return "Set up payouts (startPayoutOnboarding) before selling paid services."
        if not account.ready:
            return "Stripe has not enabled charges and payouts for your account yet."
        return None

    async def refund(self, request: RefundRequest) -> str:
        params: Any = {
            "payment_intent": request.external_id,
            "amount": request.amount,
            "metadata": {"reason": request.reason},
        }
        payment = await records.find(intent_id=request.external_id)
        if payment is not None and payment.destination:
            # The specialist gives back the refunded share, the platform its share of the fee.
            params["reverse_transfer"] = True
            params["refund_application_fee"] = True
        try:
            client = stripe_client(self._settings)
            refund = await client.v1.refunds.create_async(
                params, {"idempotency_key": request.idempotency_key}
            )
        except stripe.StripeError as exc:
            raise failure(exc) from exc
        return refund.id
