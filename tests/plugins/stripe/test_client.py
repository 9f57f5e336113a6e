"""Stripe's client: its TLS context is loaded once per process and still verifies."""

from __future__ import annotations

import os
import ssl
from typing import Any

import pytest
import stripe

from specialistly.providers import ProviderError
from specialistly_stripe.client import failure, stripe_client
from specialistly_stripe.settings import StripeSettings

STRIPE_MOCK = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111")


def settings(api_base: str) -> StripeSettings:
    return StripeSettings(secret_key="sk_test_specialistly", api_base=api_base)


async def test_clients_share_one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[Any] = []
    original = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        loaded.append(kwargs.get("cafile"))
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    for _ in range(3):
        async with stripe_client(settings(STRIPE_MOCK)) as client:
            await client.v1.customers.create_async({"email": "a@example.com"})
    assert loaded.count(stripe.ca_bundle_path) <= 1


async def test_a_server_whose_certificate_does_not_verify_is_refused() -> None:
    # stripe-mock's HTTPS port presents a self-signed certificate.
    host, port = STRIPE_MOCK.removeprefix("http://").split(":")
    https = f"https://{host}:{int(port) + 1}"
    async with stripe_client(settings(https)) as client:
        with pytest.raises(stripe.APIConnectionError) as refused:
            await client.v1.customers.create_async({"email": "a@example.com"})
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value.__cause__ or refused.value)
    assert isinstance(failure(refused.value), ProviderError)
