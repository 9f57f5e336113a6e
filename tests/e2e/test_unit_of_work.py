"""A GraphQL operation publishes the events of its changes before it answers."""

from __future__ import annotations

import secrets

from specialistly.core.bookings import Booking
from specialistly.core.events import Event
from specialistly.runtime import Runtime
from tests.bookings_fixtures import day_at, make_service
from tests.client import GraphQLClient, register, service_gid

CREATE = """
mutation Create($input: CreateBookingInput!) {
  createBooking(input: $input) { booking { id } errors { field code message } }
}
"""


async def test_a_mutation_publishes_its_events_before_answering(
    client: GraphQLClient, runtime: Runtime
) -> None:
    service = await make_service()
    customer = await register(client)
    variables = {
        "input": {
            "serviceId": service_gid(service.id),
            "start": day_at(15).isoformat(),
            "durationMinutes": 30,
            "customerTimezone": "Europe/Berlin",
            "idempotencyKey": secrets.token_hex(8),
        }
    }
    payload = (await customer.client.data(CREATE, variables))["createBooking"]
    assert payload["errors"] == []

    booking = await Booking.find_one(Booking.service_id == service.id)
    assert booking is not None
    assert booking.outbox == []
    events = await Event.find(Event.subject == f"bookings:{booking.id}").to_list()
    names = {e.name for e in events}
    # The session's worker (started by an earlier test) may have delivered them already,
    # and stored the meeting.created of the meeting it made.
    assert {"booking.confirmed", "booking.created"} <= names, names
