"""DataLoaders, created per request, so one query makes one database call per kind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from beanie import Document, PydanticObjectId
from strawberry.dataloader import DataLoader

from specialistly.core import read_cache
from specialistly.core.users import User

D = TypeVar("D", bound=Document)


# A batch is read with one equality query per key, all at once, rather than one `$in`
# query: FerretDB pushes no `$in` down, so that would read the whole collection, while an
# equality on an indexed field reads one document. A batch is at most a page's worth.


def _each(
    read: Callable[[PydanticObjectId], Awaitable[D | None]],
) -> DataLoader[PydanticObjectId, D | None]:
    """A loader that reads each key of a batch with `read`, all at once."""

    async def load(ids: Sequence[PydanticObjectId]) -> list[D | None]:
        return list(await asyncio.gather(*(read(i) for i in ids)))

    return DataLoader(load_fn=load)


class Loaders:
    def __init__(self) -> None:
        self.profile_by_user = _each(read_cache.profile)  # through the read cache
        self.service = _each(read_cache.service)
        self._extra: dict[type[Document], DataLoader[PydanticObjectId, object]] = {}

    def forget(self) -> None:
        """Drop what was loaded, failures included (a loader keeps those too), so that a
        read resolved again after the database was busy loads afresh."""
        self.profile_by_user.clear_all()
        self.service.clear_all()
        for loader in self._extra.values():
            loader.clear_all()

    @property
    def user(self) -> DataLoader[PydanticObjectId, User | None]:
        return self.by_id(User)

    def by_id(self, model: type[D]) -> DataLoader[PydanticObjectId, D | None]:
        """A loader of any document model by id, created on first use in this request."""
        if model not in self._extra:
            self._extra[model] = _each(model.get)  # type: ignore[assignment]
        return self._extra[model]  # type: ignore[return-value]
