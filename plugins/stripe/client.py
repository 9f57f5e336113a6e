"""Stripe's official client, one per task, and its errors as the platform's."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import httpx
import stripe

from specialistly.providers import ProviderError
from specialistly_stripe.settings import StripeSettings

# Errors that another try may get past; the others (bad key, bad request) will not.
_TRANSIENT = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


def failure(exc: stripe.StripeError) -> ProviderError:
    # The message says what went wrong without the request (which can hold the customer's email).
    kind = type(exc).__name__
    return ProviderError(
        f"Stripe refused the request ({kind}, {exc.code or 'no code'})",
        transient=isinstance(exc, _TRANSIENT),
    )


@cache
def _verified_tls() -> ssl.SSLContext:
    """Stripe's own certificate bundle, loaded once: loading it is most of what making a
    client costs, and stripe's client would load it again for every client."""
    return ssl.create_default_context(cafile=stripe.ca_bundle_path)


class _HTTPXClient(stripe.HTTPXClient):
    """stripe's httpx client, with the TLS context shared by every client of the process
    and sending the encoded form as ``content``: it passes it as ``data``, which httpx
    deprecates for raw bytes (a DeprecationWarning on every call)."""

    def __init__(self, timeout: float) -> None:
        # Not verifying here only skips stripe's own context; the client made below
        # verifies with the same bundle.
        super().__init__(timeout=timeout, verify_ssl_certs=False)
        self._verify_ssl_certs = True
        self._client_async = httpx.AsyncClient(verify=_verified_tls())

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
