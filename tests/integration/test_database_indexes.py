"""The embedded database reads a pushed-down equality through an index.

FerretDB v1 pushes an equality down as `_jsonb -> 'field' @> value`, which its own B-tree
indexes cannot serve; scripts/ferretdb/indexes.sql gives PostgreSQL a GIN index on every
field that leads a declared index. Its `explain` shows PostgreSQL's plan. On MongoDB
(where `explain` has no `filterPushdown`) the declared indexes serve these queries
themselves, and there is nothing to check.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from bson import ObjectId

from specialistly.runtime import Runtime
from specialistly.settings import Settings


def scans(plan: dict[str, Any]) -> list[str]:
    """The node types of a PostgreSQL plan, outermost first."""
    found = [str(plan.get("Node Type"))]
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


async def test_equalities_on_indexed_fields_read_through_an_index(
    runtime: Runtime, settings: Settings
) -> None:
    db = runtime.mongo[settings.database]
    collection = db[f"indexed_{secrets.token_hex(4)}"]
    await collection.create_index([("owner_id", 1), ("start", -1)])
    owners = [ObjectId() for _ in range(50)]
    await collection.insert_many(
        [{"owner_id": owners[n % 50], "start": n, "note": "x" * 200} for n in range(3000)]
    )
    some = await collection.find_one({"start": 7})
    assert some is not None
    try:
        for query in ({"owner_id": owners[7]}, {"_id": some["_id"]}):
            await assert_read_through_index(db, collection.name, query)
        # Answers are the same through the index.
        assert await collection.count_documents({"owner_id": owners[7]}) == 60
    finally:
        await collection.drop()


async def test_large_documents_are_read_through_an_index_before_any_statistics(
    runtime: Runtime, settings: Settings
) -> None:
    """Large documents live out of line (TOAST): their table is a few pages, which makes a
    sequential scan look cheap to the planner, while it reads and unpacks every document
    (8.8 ms a lookup among 1,500 emails, against 0.1 ms through the index)."""
    db = runtime.mongo[settings.database]
    collection = db[f"large_{secrets.token_hex(4)}"]
    await collection.create_index("key", unique=True)
    body = secrets.token_hex(1500)  # hardly compresses: stored out of line, as emails are
    await collection.insert_many([{"key": f"k{n}", "html": body} for n in range(1500)])
    some = await collection.find_one({"key": "k7"})
    assert some is not None
    try:
        for query in ({"_id": some["_id"]}, {"key": "k7"}):
            await assert_read_through_index(db, collection.name, query)
    finally:
        await collection.drop()


async def test_a_query_that_must_read_its_whole_table_is_not_compiled(
    runtime: Runtime, settings: Settings
) -> None:
    """With sequential scans discouraged, such a plan's cost is past the point where
    PostgreSQL compiles it with LLVM: 30 ms for a scan that takes 1.3 ms."""
    db = runtime.mongo[settings.database]
    collection = db[f"unindexed_{secrets.token_hex(4)}"]
    await collection.insert_many([{"note": f"n{n}"} for n in range(10)])
    try:
        answer = await db.command({"explain": {"find": collection.name, "filter": {"note": "n7"}}})
        if "filterPushdown" not in answer:
            pytest.skip("not FerretDB: MongoDB compiles no query")
        plan = answer["queryPlanner"]
        assert "Seq Scan" in scans(plan["Plan"])  # the case in point
        assert "JIT" not in plan, plan["JIT"]
    finally:
        await collection.drop()


async def assert_read_through_index(db: Any, name: str, query: dict[str, Any]) -> None:
    answer = await db.command({"explain": {"find": name, "filter": query}})
    if "filterPushdown" not in answer:
        pytest.skip("not FerretDB: the database serves its declared indexes itself")
    assert answer["filterPushdown"] is True
    nodes = scans(answer["queryPlanner"]["Plan"])
    assert "Seq Scan" not in nodes, (query, nodes)
    assert any("Index" in node for node in nodes), (query, nodes)
