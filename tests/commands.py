"""Recording the database commands the test's own process sends, by command and collection."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from specialistly.infra import db
from specialistly.runtime import Runtime

READS = frozenset({"find", "aggregate", "getMore", "count", "distinct"})


class Commands(CommandListener):
    """The commands sent to the database."""

    def __init__(self) -> None:
        self.events: list[CommandStartedEvent] = []
        self.timeline: list[tuple[str, str]] = []  # ("sent" or "answered", collection)

    def started(self, event: CommandStartedEvent) -> None:
        self.events.append(event)
        self.timeline.append(("sent", str(event.command.get(event.command_name))))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self.timeline.append(("answered", ""))

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def reads(self) -> list[tuple[str, str]]:
        """(command, collection) of every read, in order."""
        return [
            (e.command_name, str(e.command.get(e.command_name)))
            for e in self.events
            if e.command_name in READS
        ]

    def counted(self) -> Counter[tuple[str, str]]:
        """How many of each (command, collection) were sent."""
        return Counter((e.command_name, str(e.command.get(e.command_name))) for e in self.events)

    def on(self, collection: str) -> list[str]:
        """The commands sent to one collection, in order."""
        return [e.command_name for e in self.events if e.command.get(e.command_name) == collection]


@asynccontextmanager
async def recording(runtime: Runtime) -> AsyncIterator[Commands]:
    """Beanie bound, inside the block, to a client that records its commands."""
    listener = Commands()
    settings = runtime.settings
    client = await db.connect(settings, runtime.plugins, listeners=[listener])
    listener.events.clear()
    try:
        yield listener
    finally:
        await db.bind(runtime.mongo[settings.database], runtime.plugins)
        await client.close()
