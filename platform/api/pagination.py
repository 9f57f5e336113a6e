"""Relay cursor connections over keyset pagination (no skip, so deep pages stay cheap)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry
from beanie import Document, PydanticObjectId
from bson import ObjectId

from specialistly.core.errors import DomainError, ErrorCode

T = TypeVar("T")
D = TypeVar("D", bound=Document)


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
        page_query = {"$and": [query, _after(keys, _decode(after, len(keys)))]}
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


def _encode(values: list[Any]) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, datetime):
            return {"d": v.isoformat()}
        if isinstance(v, ObjectId):
            return {"o": str(v)}
        return v

    text = json.dumps([plain(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(cursor: str, length: int) -> list[Any]:
    def typed(v: Any) -> Any:
        if isinstance(v, dict) and "d" in v:
            return datetime.fromisoformat(v["d"])
        if isinstance(v, dict) and "o" in v:
            return PydanticObjectId(v["o"])
        return v

    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != length:
            raise ValueError
        return [typed(v) for v in values]
    except (ValueError, TypeError, KeyError):
        raise DomainError.of(ErrorCode.INVALID, "This cursor is not valid.", "after") from None
