"""The payment provider: PaymentIntents through Stripe's official library.

PaymentIntents rather than Checkout Sessions: the mobile SDKs (and Stripe.js's Payment
Element) confirm a PaymentIntent with its client secret inside the app, and a booking
needs nothing of a hosted page but the payment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import stripe

from specialistly.providers import PaymentRequest, PaymentSession, ProviderError, RefundRequest
from specialistly_stripe import records
from specialistly_stripe.settings import StripeSettings

# Errors that another try may get past; the others (bad key, bad request) will not.
_TRANSIENT = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


def _failure(exc: stripe.StripeError) -> ProviderError:
    # The message says what went wrong without the request (which can hold the customer's email).
    kind = type(exc).__name__
    return ProviderError(
        f"Stripe refused the request ({kind}, {exc.code or 'no code'})",
        transient=isinstance(exc, _TRANSIENT),
    )


class _HTTPXClient(stripe.HTTPXClient):
    """stripe's httpx client, sending the encoded form as ``content``: it passes it as
    ``data``, which httpx deprecates for raw bytes (a DeprecationWarning on every call)."""

    def _get_request_args_kwargs(  # type: ignore[no-untyped-def]
        self, method: str, url: str, headers: Any, post_data
    ) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        if isinstance(kwargs.get("data"), bytes | str):
            kwargs["content"] = kwargs.pop("data")
        return args, kwargs


@asynccontextmanager
async def stripe_client(settings: StripeSettings) -> AsyncIterator[stripe.StripeClient]:
    """A client for one task, its connections closed after it (none outlives its loop)."""
    if settings.secret_key is None:
        raise ProviderError("Stripe is not configured (no secret key)", transient=False)
    base: Any = {"api": settings.api_base} if settings.api_base else None
    http = _HTTPXClient(timeout=settings.timeout)
    try:
        yield stripe.StripeClient(
            settings.secret_key.get_secret_value(),
            base_addresses=base,
            http_client=http,
            max_network_retries=1,
        )
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]


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
        try:
            async with stripe_client(self._settings) as client:
                intent = await client.v1.payment_intents.create_async(
                    params, {"idempotency_key": request.idempotency_key}
                )
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
        await records.remember(intent.id, request.booking_id, request.specialist_id)
        return PaymentSession(
            provider=self.name,
            external_id=intent.id,
            client_secret=intent.client_secret,
            status=intent.status,
            publishable_key=self._settings.publishable_key,
        )

    async def cancel_payment(self, external_id: str) -> None:
        try:
            async with stripe_client(self._settings) as client:
                await client.v1.payment_intents.cancel_async(external_id)
        except stripe.InvalidRequestError as exc:
            if exc.code != "payment_intent_unexpected_state":
                raise _failure(exc) from exc
            # Already paid (its success is refunded when reported) or already cancelled.
        except stripe.StripeError as exc:
            raise _failure(exc) from exc

    async def refund(self, request: RefundRequest) -> str:
        params: Any = {
            "payment_intent": request.external_id,
            "amount": request.amount,
            "metadata": {"reason": request.reason},
        }
        try:
            async with stripe_client(self._settings) as client:
                refund = await client.v1.refunds.create_async(
                    params, {"idempotency_key": request.idempotency_key}
                )
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
        return refund.id
