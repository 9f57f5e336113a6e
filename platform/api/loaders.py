"""DataLoaders, created per request, so one query makes one database call per kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from beanie import Document, PydanticObjectId
from strawberry.dataloader import DataLoader

from specialistly.core.users import SpecialistProfile, User

D = TypeVar("D", bound=Document)


def _by_id(model: type[D]) -> DataLoader[PydanticObjectId, D | None]:
    async def load(ids: Sequence[PydanticObjectId]) -> list[D | None]:
        found = {doc.id: doc for doc in await model.find({"_id": {"$in": list(ids)}}).to_list()}
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _profile_by_user() -> DataLoader[PydanticObjectId, SpecialistProfile | None]:
    async def load(ids: Sequence[PydanticObjectId]) -> list[SpecialistProfile | None]:
        query = SpecialistProfile.find({"user_id": {"$in": list(ids)}})
        found = {p.user_id: p for p in await query.to_list()}
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


class Loaders:
    def __init__(self) -> None:
        self.profile_by_user = _profile_by_user()
        self._extra: dict[type[Document], DataLoader[PydanticObjectId, object]] = {}

    def forget(self) -> None:
        """Drop what was loaded, failures included (a loader keeps those too), so that a
        read resolved again after the database was busy loads afresh."""
        self.profile_by_user.clear_all()
        for loader in self._extra.values():
            loader.clear_all()

    @property
    def user(self) -> DataLoader[PydanticObjectId, User | None]:
        return self.by_id(User)

    def by_id(self, model: type[D]) -> DataLoader[PydanticObjectId, D | None]:
        """A loader of any document model by id, created on first use in this request."""
        if model not in self._extra:
            self._extra[model] = _by_id(model)  # type: ignore[assignment]
        return self._extra[model]  # type: ignore[return-value]
