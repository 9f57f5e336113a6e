"""The hooks at work in the running platform (the test API and worker load the example
plugin through SPECIALISTLY_PLUGINS_EXTRA)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from specialistly.core.clock import utcnow
from specialistly.core.events import Event
from specialistly.runtime import Runtime
from tests.client import GraphQLClient
from tests.conftest import Process
from tests.plugins.example import HandledEvent
from tests.waiting import eventually


async def test_hook_graphql_contribution(client: GraphQLClient) -> None:
    assert await client.data("{ exampleGreeting }") == {"exampleGreeting": "hello"}


async def test_hook_http_routes(api_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{api_url}/plugins/example/ping")
    assert response.json() == {"plugin": "example"}


async def test_hook_document_models(runtime: Runtime) -> None:
    await HandledEvent(name="stored by the plugin's model").insert()
    assert await HandledEvent.find(HandledEvent.name == "stored by the plugin's model").count() == 1


def stored_event(name: str, subject: str, data: dict[str, object] | None = None) -> Event:
    """An event as publishing stores it: its first delivery leased for the retry delay."""
    now = utcnow()
    return Event(
        name=name,
        subject=subject,
        occurred_at=now,
        data=data or {},
        next_attempt_at=now + timedelta(seconds=2),  # SPECIALISTLY_EVENT_RETRY_DELAY in tests
    )


async def dispatched(event_id: object) -> Event:
    async def check() -> Event | None:
        stored = await Event.get(event_id)
        return stored if stored and stored.dispatched_at else None

    return await eventually(check)


async def test_hook_on_event(runtime: Runtime, worker: Process) -> None:
    event = stored_event("test.ping", "test:1")
    await event.insert()
    await runtime.jobs.send("dispatch_event", str(event.id))

    stored = await dispatched(event.id)
    # Each success recorded in turn, in pluggy's order: the last registered plugin first.
    assert stored.handled_by == ["tests.plugins.example", "notifications", "meetings"]
    handled = await HandledEvent.get(event.id)
    assert handled is not None and (handled.started, handled.effects) == (1, 1)
