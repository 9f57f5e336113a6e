"""Stripe's official client, kept for reuse on each event loop, and its errors as the
platform's."""

from __future__ import annotations

import asyncio
import ssl
import weakref
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

    @property
    def closed(self) -> bool:
        closed: bool = self._client_async.is_closed
        return closed

    def _get_request_args_kwargs(  # type: ignore[no-untyped-def]
        self, method: str, url: str, headers: Any, post_data
    ) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        if isinstance(kwargs.get("data"), bytes | str):
            kwargs["content"] = kwargs.pop("data")
        return args, kwargs


# Per event loop (an httpx client's connections belong to the loop that opened them), per
# key and address: the clients made so far.
_Key = tuple[str, str | None, float]
_kept: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[_Key, tuple[stripe.StripeClient, _HTTPXClient]]
] = weakref.WeakKeyDictionary()


def stripe_client(settings: StripeSettings) -> stripe.StripeClient:
    """The client for these settings on the running event loop, made on its first use and
    kept: the calls that follow reuse its connections (and, against Stripe, their TLS
    sessions) instead of opening one each. `close_clients` closes them."""
    if settings.secret_key is None:
        raise ProviderError("Stripe is not configured (no secret key)", transient=False)
    secret = settings.secret_key.get_secret_value()
    key = (secret, settings.api_base, settings.timeout)
    clients = _kept.setdefault(asyncio.get_running_loop(), {})
    found = clients.get(key)
    if found is None or found[1].closed:
        http = _HTTPXClient(timeout=settings.timeout)
        base: Any = {"api": settings.api_base} if settings.api_base else None
        client = stripe.StripeClient(
            secret, base_addresses=base, http_client=http, max_network_retries=1
        )
        found = clients[key] = (client, http)
    return found[0]


async def close_clients() -> None:
    """Close the clients of the running event loop (a process closes its providers when it
    stops); a later call makes a new one."""
    for _, http in _kept.pop(asyncio.get_running_loop(), {}).values():
        await http.close_async()  # type: ignore[no-untyped-call]
