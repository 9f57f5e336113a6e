"""A plugin implementing every hook, loaded through `plugins_extra` by the hook tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import strawberry
from beanie import Document
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.core.events import Event
from specialistly.hookspecs import GraphQLContribution, hookimpl
from specialistly.providers import (
    EmailMessage,
    MeetingDetails,
    MeetingRequest,
    PaymentRequest,
    PaymentSession,
    RefundRequest,
)
from specialistly.runtime import Runtime


class ExampleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPECIALISTLY_EXAMPLE_")
    greeting: str = "hello"
    max_items: int = 3


class HandledEvent(Document):
    """What the plugin did for one event (its id is the event's): the test of idempotency."""

    name: str
    started: int = 0  # deliveries that reached the plugin
    effects: int = 0  # times the effect was applied: must stay 1

    class Settings:
        name = "example_handled_events"


@strawberry.type
class Query:
    @strawberry.field
    def example_greeting(self, info: Info[Context, None]) -> str:
        """The plugin's own setting, read at start-up and handed back through the runtime."""
        return info.context.runtime.plugin_settings.of(ExampleSettings).greeting


class ExampleVideo:
    name = "example-video"
    display_name = "Example video"

    async def create_meeting(self, request: MeetingRequest) -> MeetingDetails:
        url = f"https://video.example/{request.booking_id}"
        return MeetingDetails(self.name, request.booking_id, url)

    async def reschedule_meeting(
        self, meeting: MeetingDetails, request: MeetingRequest
    ) -> MeetingDetails:
        return meeting

    async def cancel_meeting(self, meeting: MeetingDetails) -> None:
        return None


class ExamplePayment:
    name = "example-payment"
    display_name = "Example payment"

    async def create_payment(self, request: PaymentRequest) -> PaymentSession:
        return PaymentSession(self.name, f"pay_{request.booking_id}", "secret", "pending")

    async def cancel_payment(self, external_id: str) -> None:
        """Nothing to stop: this provider never collects anything."""

    async def payout_problem(self, specialist_id: str) -> str | None:
        return None

    async def refund(self, request: RefundRequest) -> str:
        return f"re_{request.external_id}_{request.amount}"


class ExampleEmail:
    name = "example-email"
    display_name = "Example email"

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> str:
        self.sent.append(message)
        return f"msg_{len(self.sent)}"


async def ping(request: Request) -> JSONResponse:
    return JSONResponse({"plugin": "example"})


@hookimpl
def settings_class() -> type[BaseSettings]:
    return ExampleSettings


@hookimpl
def document_models() -> Sequence[type[Document]]:
    return [HandledEvent]


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query)


@hookimpl
def http_routes() -> Sequence[BaseRoute]:
    return [Route("/plugins/example/ping", ping)]


@hookimpl
def video_providers() -> Sequence[ExampleVideo]:
    return [ExampleVideo()]


@hookimpl
def payment_providers() -> Sequence[ExamplePayment]:
    return [ExamplePayment()]


@hookimpl
def email_providers() -> Sequence[ExampleEmail]:
    return [ExampleEmail()]


@hookimpl
async def on_event(event: Event, runtime: Runtime) -> None:
    """`test.*` events: count the delivery, sleep on the first one if asked, then apply
    the effect once (guarded by the stored state, as a real handler would be)."""
    if not event.name.startswith("test."):
        return
    handled = HandledEvent.get_pymongo_collection()
    before = await handled.find_one_and_update(
        {"_id": event.id},
        {"$set": {"name": event.name}, "$setOnInsert": {"effects": 0}, "$inc": {"started": 1}},
        upsert=True,
    )
    if before is None and event.data.get("sleep"):
        await asyncio.sleep(float(event.data["sleep"]))
    if event.data.get("fail"):
        raise RuntimeError("asked to fail")
    await handled.update_one({"_id": event.id, "effects": 0}, {"$inc": {"effects": 1}})
