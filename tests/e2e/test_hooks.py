"""The hooks at work in the running platform (the test API and worker load the example
plugin through SPECIALISTLY_PLUGINS_EXTRA)."""

from __future__ import annotations

import httpx

from specialistly.runtime import Runtime
from tests.client import GraphQLClient
from tests.factories import stored_event
from tests.plugins.example import HandledEvent
from tests.processes import Process
from tests.waiting import dispatched


async def test_hook_graphql_contribution(client: GraphQLClient) -> None:
    assert await client.data("{ exampleGreeting }") == {"exampleGreeting": "hello"}


async def test_hook_http_routes(api_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{api_url}/plugins/example/ping")
    assert response.json() == {"plugin": "example"}


async def test_hook_document_models(runtime: Runtime) -> None:
    await HandledEvent(name="stored by the plugin's model").insert()
    assert await HandledEvent.find(HandledEvent.name == "stored by the plugin's model").count() == 1


async def test_hook_on_event(runtime: Runtime, worker: Process) -> None:
    event = stored_event("test.ping", "test:1")
    await event.insert()
    await runtime.jobs.send("dispatch_event", str(event.id))

    stored = await dispatched(event.id)
    # Each success recorded in turn, in pluggy's order: the last registered plugin first.
    assert stored.handled_by == [
        "tests.plugins.example",
        "zoom",
        "account-mail",
        "mail",
        "in-app-notifications",
        "notifications",
        "payments",
        "meetings",
    ]
    handled = await HandledEvent.get(event.id)
    assert handled is not None and (handled.started, handled.effects) == (1, 1)
