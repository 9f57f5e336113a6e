"""A process that stops closes the connections its providers keep open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import stripe

from specialistly.infra import db
from specialistly.plugin_system.manager import PluginManager
from specialistly.runtime import Runtime, start_runtime
from specialistly.settings import Settings
from specialistly_stripe.client import stripe_client
from specialistly_stripe.settings import StripeSettings


async def test_closing_a_runtime_closes_every_provider_that_keeps_connections(
    runtime: Runtime, settings: Settings, plugins: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = await start_runtime(settings, plugins)  # binds the documents to its database client
    client = stripe_client(rt.plugin_settings.of(StripeSettings))
    await client.v1.customers.create_async({"email": "a@example.com"})

    closed: list[str] = []

    def recorded(name: str, close: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def aclose() -> None:
            closed.append(name)
            await close()

        return aclose

    for provider in rt.providers.all():
        if hasattr(provider, "aclose"):
            name = provider.name  # type: ignore[attr-defined]
            monkeypatch.setattr(provider, "aclose", recorded(name, provider.aclose))
    await rt.close()
    await db.bind(runtime.mongo[settings.database], plugins)  # the tests' again

    assert {"zoom", "stripe", "smtp"} <= set(closed)  # video, payment and email
    with pytest.raises(stripe.APIConnectionError):  # its connections are closed
        await client.v1.customers.create_async({"email": "a@example.com"})
