"""A context for executing the schema in unit tests, with no server behind it."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import SimpleNamespace
from typing import Any

from specialistly.core.events import unit_of_work


class OfflineRuntime:
    """The part of the runtime an operation's unit of work needs; unit tests of the schema
    write no documents, so there is nothing to publish."""

    async def publish(
        self, model: Any, doc_id: Any, *, held: bool = False, outbox: Any = None
    ) -> int:
        return 0

    def unit_of_work(self) -> AbstractAsyncContextManager[None]:
        return unit_of_work(self.publish)


def offline_context() -> SimpleNamespace:
    return SimpleNamespace(runtime=OfflineRuntime())
