"""Publication is part of finishing a change: a unit of work publishes the outboxes that
the changes inside it wrote to, and no caller publishes by hand. A change made under its
document's lock is published before the lock is given back; any other when the unit of
work ends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from beanie import Document, PydanticObjectId
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from specialistly.api.unit_of_work import UnitOfWorkMiddleware
from specialistly.core import bookings
from specialistly.core.bookings import Booking
from specialistly.core.clock import utcnow
from specialistly.core.errors import DomainError
from specialistly.core.events import Event, new_event, unit_of_work, update_with_events
from specialistly.processes import jobs
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, day_at, make_service, make_user

pytestmark = pytest.mark.usefixtures("runtime")


class Publisher:
    """The runtime's publish, remembering what it was asked to publish and whether the
    caller held the document's lock."""

    def __init__(self, runtime: Runtime, *, fail_held: bool = False) -> None:
        self.runtime = runtime
        self.fail_held = fail_held
        self.calls: list[tuple[type[Document], Any, bool]] = []

    async def __call__(
        self, model: type[Document], doc_id: Any, *, held: bool = False, outbox: Any = None
    ) -> int:
        self.calls.append((model, doc_id, held))
        if held and self.fail_held:
            raise ConnectionError("database unreachable for a moment")
        return await self.runtime.publish(model, doc_id, held=held, outbox=outbox)


async def stored(booking_id: PydanticObjectId | None) -> list[str]:
    """The names of the events this module's changes wrote about the booking. The session's
    worker may be running, and adds its own (meeting.created) once a booking is confirmed."""
    found = await Event.find(Event.subject == f"bookings:{booking_id}").to_list()
    return sorted(e.name for e in found if not e.name.startswith("meeting."))


async def waiting(booking_id: PydanticObjectId | None) -> list[str]:
    """The names of the events still in the booking's outbox."""
    booking = await Booking.get(booking_id)
    assert booking is not None
    return [e.name for e in booking.outbox]


async def test_a_change_under_its_lock_is_published_before_the_lock_is_given_back(
    runtime: Runtime,
) -> None:
    service = await make_service()
    publisher = Publisher(runtime)
    async with unit_of_work(publisher):
        booking = await book(await make_user(), service, day_at(9))
        # Published by the lock's holder, inside the unit of work.
        assert await stored(booking.id) == ["booking.confirmed", "booking.created"]
        assert await waiting(booking.id) == []
    assert publisher.calls == [(Booking, booking.id, True)]
    raw = await Booking.get_pymongo_collection().find_one({"_id": booking.id})
    assert raw is not None and raw["outbox_waiting"] is False


async def test_a_change_without_a_lock_is_published_when_its_unit_of_work_ends(
    runtime: Runtime,
) -> None:
    booking = await book(await make_user(), await make_service(), day_at(10))
    publisher = Publisher(runtime)
    async with unit_of_work(publisher):
        await update_with_events(
            Booking, {"_id": booking.id}, {"$set": {"notes": "x"}}, [new_event("test.noted")]
        )
        assert "test.noted" not in await stored(booking.id)  # not before the change ends
    assert publisher.calls == [(Booking, booking.id, False)]
    assert "test.noted" in await stored(booking.id)
    assert await waiting(booking.id) == []


async def test_each_change_is_published_once(runtime: Runtime) -> None:
    service = await make_service(price=9000)
    publisher = Publisher(runtime)
    async with unit_of_work(publisher):
        first = await book(await make_user(), service, day_at(9))
        assert first.id is not None
        await bookings.confirm(first.id)
        second = await book(await make_user(), service, day_at(12))
    assert publisher.calls == [
        (Booking, first.id, True),
        (Booking, first.id, True),
        (Booking, second.id, True),
    ]
    assert await stored(first.id) == ["booking.confirmed", "booking.created"]
    assert await stored(second.id) == ["booking.created"]


async def test_what_its_lock_holder_could_not_publish_is_published_when_the_work_ends(
    runtime: Runtime,
) -> None:
    publisher = Publisher(runtime, fail_held=True)
    async with unit_of_work(publisher):
        booking = await book(await make_user(), await make_service(), day_at(11))
        assert await stored(booking.id) == []
    assert publisher.calls == [(Booking, booking.id, True), (Booking, booking.id, False)]
    assert await stored(booking.id) == ["booking.confirmed", "booking.created"]
    assert await waiting(booking.id) == []


async def test_a_refused_change_publishes_nothing(runtime: Runtime) -> None:
    service = await make_service()
    async with runtime.unit_of_work():
        await book(await make_user(), service, day_at(10))
    publisher = Publisher(runtime)
    with pytest.raises(DomainError):
        async with unit_of_work(publisher):
            await book(await make_user(), service, day_at(10))  # the slot is taken
    assert publisher.calls == []


async def test_what_was_written_before_a_failure_is_published(runtime: Runtime) -> None:
    service = await make_service(price=9000)
    async with runtime.unit_of_work():
        booking = await book(await make_user(), service, day_at(11))
    assert booking.id is not None

    async def confirm_then_fail(booking_id: PydanticObjectId) -> None:
        async with runtime.unit_of_work():
            await bookings.confirm(booking_id)
            raise RuntimeError("failed after the confirmation was stored")

    with pytest.raises(RuntimeError):
        await confirm_then_fail(booking.id)
    # The confirmation happened, so its event is true and goes out.
    assert await stored(booking.id) == ["booking.confirmed", "booking.created"]


async def test_an_outbox_left_behind_is_published_by_the_sweeper(runtime: Runtime) -> None:
    async def broker_down(model: type[Document], doc_id: Any, **_: Any) -> int:
        raise ConnectionError("broker unreachable")

    service = await make_service()
    async with unit_of_work(broker_down):
        booking = await book(await make_user(), service, day_at(13))
    # The change stands; its events wait in its outbox.
    assert await waiting(booking.id) == ["booking.created", "booking.confirmed"]
    assert await stored(booking.id) == []

    # Once the outbox is older than the sweeper's grace period, the sweeper publishes it.
    raw = await Booking.get_pymongo_collection().find_one({"_id": booking.id})
    assert raw is not None
    aged = [{**e, "occurred_at": utcnow() - timedelta(minutes=1)} for e in raw["outbox"]]
    await Booking.get_pymongo_collection().update_one(
        {"_id": booking.id}, {"$set": {"outbox": aged}}
    )
    await jobs.sweep_events(runtime)
    assert await stored(booking.id) == ["booking.confirmed", "booking.created"]
    assert await waiting(booking.id) == []


async def test_an_http_request_runs_in_a_unit_of_work(runtime: Runtime) -> None:
    """A plugin's route (a payment webhook, say) publishes like a GraphQL operation."""
    booking = await book(await make_user(), await make_service(price=9000), day_at(14))
    assert booking.id is not None
    booking_id = booking.id

    async def payment_webhook(request: Request) -> JSONResponse:
        await bookings.confirm(booking_id)
        return JSONResponse({"received": True})

    app = Starlette(
        routes=[Route("/webhook", payment_webhook, methods=["POST"])],
        middleware=[Middleware(UnitOfWorkMiddleware)],
    )
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://platform") as http:
        assert (await http.post("/webhook")).json() == {"received": True}
    assert await stored(booking_id) == ["booking.confirmed", "booking.created"]
