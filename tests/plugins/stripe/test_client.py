"""Stripe's client: kept for reuse on each event loop until closed, its TLS context loaded
once per process and still verifying."""

from __future__ import annotations

import asyncio
import importlib.machinery
import os
import ssl
from typing import Any

import pytest
import stripe

from specialistly.providers import ProviderError
from specialistly_stripe.client import close_clients, failure, stripe_client
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
    for key in ("sk_test_one", "sk_test_two", "sk_test_three"):  # a client each
        client = stripe_client(StripeSettings(secret_key=key, api_base=STRIPE_MOCK))
        await client.v1.customers.create_async({"email": "a@example.com"})
    assert loaded.count(stripe.ca_bundle_path) <= 1


async def test_calls_on_one_loop_share_its_client_until_it_is_closed() -> None:
    client = stripe_client(settings(STRIPE_MOCK))
    await client.v1.customers.create_async({"email": "a@example.com"})
    assert stripe_client(settings(STRIPE_MOCK)) is client
    other = StripeSettings(secret_key="sk_test_other", api_base=STRIPE_MOCK)
    assert stripe_client(other) is not client

    await close_clients()
    with pytest.raises(stripe.APIConnectionError):
        await client.v1.customers.create_async({"email": "a@example.com"})
    again = stripe_client(settings(STRIPE_MOCK))
    assert again is not client
    await again.v1.customers.create_async({"email": "a@example.com"})


async def test_each_event_loop_has_a_client_of_its_own() -> None:
    here = stripe_client(settings(STRIPE_MOCK))

    async def elsewhere() -> stripe.StripeClient:
        client = stripe_client(settings(STRIPE_MOCK))
        await client.v1.customers.create_async({"email": "a@example.com"})
        await close_clients()
        return client

    there = await asyncio.to_thread(asyncio.run, elsewhere())
    assert there is not here
    await here.v1.customers.create_async({"email": "a@example.com"})  # still open


def test_an_unconfigured_plugin_makes_no_client() -> None:
    with pytest.raises(ProviderError, match="not configured"):
        stripe_client(StripeSettings())


async def test_a_server_whose_certificate_does_not_verify_is_refused() -> None:
    # stripe-mock's HTTPS port presents a self-signed certificate.
    host, port = STRIPE_MOCK.removeprefix("http://").split(":")
    https = f"https://{host}:{int(port) + 1}"
    client = stripe_client(settings(https))
    with pytest.raises(stripe.APIConnectionError) as refused:
        await client.v1.customers.create_async({"email": "a@example.com"})
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value.__cause__ or refused.value)
    assert isinstance(failure(refused.value), ProviderError)


async def test_a_call_searches_for_no_module(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpcore asks sniffio which event loop runs at every lock and event of a call: were it
    # missing, each ask would search sys.path for it again.
    client = stripe_client(settings(STRIPE_MOCK))
    await client.v1.customers.create_async({"email": "a@example.com"})  # imports done
    searched: list[str] = []
    find_spec = importlib.machinery.PathFinder.find_spec

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        searched.append(name)
        return find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", counting)
    await close_clients()  # a new connection, as well
    await stripe_client(settings(STRIPE_MOCK)).v1.customers.create_async({"email": "a@b.com"})
    assert searched == []
