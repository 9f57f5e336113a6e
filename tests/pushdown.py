"""Whether FerretDB pushes a query's filter down into PostgreSQL, and the platform's rule.

FerretDB v1 on PostgreSQL turns an equality on a top-level field into SQL; everything else
(ranges alone, `$in`, regular expressions, dotted paths, `$and`/`$or`, null) it applies
after reading and decoding every document of the collection. Its `explain` command says
which (`filterPushdown`); it reads the filter of a `find` only, so every recorded filter
is explained as one. The rule a query must follow: FerretDB pushes its filter down, and
the filter holds an equality on a field that leads an index (or `_id`), so that MongoDB
reads only the matching documents too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from tests.query_recorder import shape

# "<collection> <filter shape, a page cursor aside>" -> why this query may read more than
# its answer.
EXCEPTIONS: dict[str, str] = {
    'bookings {"status": {"$ne": "str"}}': "the admins' list of every booking (`bookings`"
    " without a status filter): its answer is the whole collection, a page at a time",
}


@dataclass(frozen=True)
class Verdict:
    collection: str
    command: str
    query: dict[str, Any]
    pushed_down: bool
    indexed_equality: str | None

    @property
    def ok(self) -> bool:
        return self.pushed_down and self.indexed_equality is not None

    def explain(self) -> str:
        why = [] if self.pushed_down else ["FerretDB does not push it down"]
        if self.indexed_equality is None:
            why.append("no equality on a field that leads an index")
        return f"{self.collection} {self.command} {shape(self.query)}: {'; '.join(why)}"


def exception_key(collection: str, query: Mapping[str, Any]) -> str:
    base = {field: value for field, value in query.items() if field != "$and"}  # page cursor
    return f"{collection} {json.dumps(shape(base), sort_keys=True)}"


async def pushed_down(db: AsyncDatabase[Any], collection: str, query: Mapping[str, Any]) -> bool:
    answer = await db.command({"explain": {"find": collection, "filter": dict(query)}})
    return bool(answer.get("filterPushdown"))


async def leading_fields(db: AsyncDatabase[Any], collection: str) -> set[str]:
    """The first field of every index of the collection (`_id` always)."""
    indexes = await db[collection].index_information()
    return {"_id", *(spec["key"][0][0] for spec in indexes.values())}


def equality_fields(query: Mapping[str, Any]) -> list[str]:
    """Top-level fields the filter pins to one value (never null, never a document)."""
    found = []
    for field, condition in query.items():
        if field.startswith("$") or "." in field:
            continue
        value = condition
        if isinstance(condition, Mapping):
            if set(condition) != {"$eq"}:
                continue
            value = condition["$eq"]
        if value is not None and not isinstance(value, Mapping | list):
            found.append(field)
    return found


async def judge(
    db: AsyncDatabase[Any], collection: str, command: str, query: dict[str, Any]
) -> Verdict:
    indexed = await leading_fields(db, collection)
    equality = next((f for f in equality_fields(query) if f in indexed), None)
    return Verdict(collection, command, query, await pushed_down(db, collection, query), equality)
