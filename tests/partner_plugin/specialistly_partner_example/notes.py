"""A partner's own document with an outbox: notes that announce themselves with an event.

The plugin only writes the event with the change it describes and never publishes it: the
GraphQL operation's unit of work does, and the platform's sweeper covers the notes
collection too (the model has an ``outbox`` and is registered through
``document_models``). The plugin's ``on_event`` marks each note delivered.
"""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from beanie import Document, PydanticObjectId

from specialistly.core.events import Event, OutboxEvent, insert_with_events, new_event
from specialistly.hookspecs import GraphQLContribution, hookimpl

NOTE_RECORDED = "partner.note_recorded"


class PartnerNote(Document):
    text: str
    delivered: bool = False  # set when NOTE_RECORDED reached this plugin's on_event
    outbox: list[OutboxEvent] = []

    class Settings:
        name = "partner_notes"


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Stores a partner note; its event is delivered later.")
    async def record_partner_note(self, text: str) -> str:
        note_id = PydanticObjectId()
        event = new_event(NOTE_RECORDED, note_id=str(note_id))
        note = await insert_with_events(PartnerNote(id=note_id, text=text, outbox=[event]))
        return str(note.id)


@hookimpl
def document_models() -> Sequence[type[Document]]:
    return [PartnerNote]


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(mutation=Mutation)


@hookimpl
async def on_event(event: Event) -> None:
    if event.name == NOTE_RECORDED:
        note_id = PydanticObjectId(event.data["note_id"])
        await PartnerNote.find_one(PartnerNote.id == note_id).update({"$set": {"delivered": True}})
