"""Relay cursor connections over keyset pagination (no skip, so deep pages stay cheap)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import UnionType
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

import strawberry
from beanie import Document, PydanticObjectId
from bson import ObjectId

from specialistly.api.errors import READ_ATTEMPTS, READ_BACKOFF
from specialistly.core.errors import DomainError, ErrorCode, is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")
D = TypeVar("D", bound=Document)
_UNIONS = (Union, UnionType)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


class Total:
    """How many documents match a list's query, counted only when a client asks for it.

    The count reads every match (on FerretDB v1, every document of the collection), so a
    page that does not show it never pays for it, and a first page that holds every match
    knows it without asking. Counted outside the root field's retries, so it retries a
    briefly unavailable database itself, as a root field would.
    """

    def __init__(self, collection: Any, query: dict[str, Any], known: int | None) -> None:
        self._collection = collection
        self._query = query
        self._known = known
        self._counting = asyncio.Lock()  # one count for every alias of the field

    async def count(self) -> int:
        async with self._counting:
            if self._known is None:
                self._known = await self._count()
            return self._known

    async def _count(self) -> int:
        for attempt in range(1, READ_ATTEMPTS):
            try:
                return int(await self._collection.count_documents(self._query))
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("totalCount: the database was busy (attempt %d): %s", attempt, exc)
                await asyncio.sleep(READ_BACKOFF * 2 ** (attempt - 1))
        return int(await self._collection.count_documents(self._query))


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _total: strawberry.Private[Total]

    @strawberry.field
    async def total_count(self) -> int:
        return await self._total.count()

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


@dataclass(frozen=True)
class Page(Generic[D]):
    items: list[D]
    cursors: list[str]
    has_next_page: bool
    total: Total

    def connection(self, to_node: Callable[[D], T]) -> Connection[T]:
        edges = [
            Edge(cursor=c, node=to_node(d)) for c, d in zip(self.cursors, self.items, strict=True)
        ]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=self.has_next_page,
                end_cursor=self.cursors[-1] if self.cursors else None,
            ),
            _total=self.total,
        )


async def paginate(
    model: type[D],
    query: dict[str, Any],
    *,
    sort: Sequence[tuple[str, int]],
    first: int,
    after: str | None,
    max_page: int,
) -> Page[D]:
    """One page of `model` matching `query`, ordered by `sort` then `_id` (both ascending
    or descending per key); one database call whatever the page size, and a second for
    the total only if it is asked for and the page does not tell it. `max_page` is the
    `page_size_max` setting."""
    if not 1 <= first <= max_page:
        raise DomainError.of(ErrorCode.INVALID, f"first must be between 1 and {max_page}.", "first")
    keys = [*sort, ("_id", sort[-1][1] if sort else 1)]
    page_query = dict(query)
    if after:
        # Beside the query's own fields, not around them: FerretDB pushes down only
        # top-level equalities.
        cursor = _after(keys, _decode(after, _kinds(model, keys)))
        page_query = {**query, "$and": [*query.get("$and", []), cursor]}
    collection = model.get_pymongo_collection()
    raw = await collection.find(page_query).sort(list(keys)).limit(first + 1).to_list()
    docs = [model.model_validate(r) for r in raw[:first]]
    cursors = [_encode([r.get(k) for k, _ in keys]) for r in raw[:first]]
    has_next = len(raw) > first
    # A first page that is not full holds every match.
    known = len(docs) if after is None and not has_next else None
    return Page(docs, cursors, has_next_page=has_next, total=Total(collection, query, known))


def _after(keys: Sequence[tuple[str, int]], values: list[Any]) -> dict[str, Any]:
    """Documents strictly after the cursor in (k1, k2, ..., _id) order."""
    branches = []
    for i, (key, direction) in enumerate(keys):
        branch = {k: v for (k, _), v in zip(keys[:i], values[:i], strict=True)}
        branch[key] = {"$gt" if direction > 0 else "$lt": values[i]}
        branches.append(branch)
    return {"$or": branches}


# A cursor is base64 of a JSON list of the sort values of the last item: strings and
# integers as themselves, datetimes as {"d": ISO 8601}, ObjectIds as {"o": hex}. Decoding
# accepts exactly the type each sort key holds, so a cursor can carry no query operator.
MAX_CURSOR = 1000
_INT64 = 2**63


def _encode(values: list[Any]) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, datetime):
            return {"d": v.isoformat()}
        if isinstance(v, ObjectId):
            return {"o": str(v)}
        return v

    text = json.dumps([plain(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(cursor: str, kinds: Sequence[tuple[type, bool]]) -> list[Any]:
    """The sort values in a cursor, each of its key's (type, nullable); INVALID otherwise."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        values = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        return [_typed(v, *kind) for v, kind in zip(values, kinds, strict=True)]
    except (ValueError, TypeError, RecursionError):
        raise DomainError.of(ErrorCode.INVALID, "This cursor is not valid.", "after") from None


def _typed(value: Any, kind: type, nullable: bool) -> Any:
    if value is None and nullable:
        return None
    if kind is str and isinstance(value, str):
        return value
    if kind is int and type(value) is int and -_INT64 <= value < _INT64:
        return value
    if kind is datetime and isinstance(value, dict) and value.keys() == {"d"}:
        parsed = datetime.fromisoformat(value["d"])
        if parsed.tzinfo is None:
            raise ValueError
        return parsed
    if kind is ObjectId and isinstance(value, dict) and value.keys() == {"o"}:
        if not (isinstance(value["o"], str) and ObjectId.is_valid(value["o"])):
            raise ValueError
        return PydanticObjectId(value["o"])
    raise ValueError


def _kinds(model: type[Document], keys: Sequence[tuple[str, int]]) -> list[tuple[type, bool]]:
    """The (type, nullable) of each sort key, read from the model's fields."""
    kinds = []
    for key, _ in keys:
        field = "id" if key == "_id" else key
        annotation = model.model_fields[field].annotation
        options = set(get_args(annotation)) if get_origin(annotation) in _UNIONS else {annotation}
        nullable = type(None) in options
        options.discard(type(None))
        (kind,) = options
        if isinstance(kind, type) and issubclass(kind, ObjectId):
            kind = ObjectId
        if kind not in (str, int, datetime, ObjectId):
            raise TypeError(f"{model.__name__}.{key} cannot be a pagination key")
        kinds.append((kind, nullable and key != "_id"))
    return kinds
