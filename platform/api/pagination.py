"""Relay cursor connections over keyset pagination (no skip, so deep pages stay cheap)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import UnionType
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

import strawberry
from beanie import Document, PydanticObjectId
from bson import ObjectId

from specialistly.core.errors import DomainError, ErrorCode

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


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


@dataclass(frozen=True)
class Page(Generic[D]):
    items: list[D]
    cursors: list[str]
    has_next_page: bool
    total_count: int

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
            total_count=self.total_count,
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
    or descending per key); two database calls whatever the page size. `max_page` is the
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
    total = await collection.count_documents(query)
    docs = [model.model_validate(r) for r in raw[:first]]
    cursors = [_encode([r.get(k) for k, _ in keys]) for r in raw[:first]]
    return Page(docs, cursors, has_next_page=len(raw) > first, total_count=total)


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
