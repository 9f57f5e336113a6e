"""The sweeper watches every document type that carries an outbox, plugins' included."""

from __future__ import annotations

from beanie import Document

from specialistly.core.bookings import Booking
from specialistly.core.events import Event, OutboxEvent, with_outbox
from specialistly.core.services import Service
from specialistly.core.users import User


class PluginNote(Document):
    text: str
    outbox: list[OutboxEvent] = []


def test_the_types_with_an_outbox_are_the_sweepers() -> None:
    models = [User, Booking, Service, Event, PluginNote]
    assert with_outbox(models) == [Booking, PluginNote]
