"""The embedded database reads a pushed-down equality through an index.

FerretDB v1 pushes an equality down as `_jsonb -> 'field' @> value`, which its own B-tree
indexes cannot serve; scripts/ferretdb/indexes.sql gives PostgreSQL a GIN index on every
field that leads a declared index. Its `explain` shows PostgreSQL's plan. On MongoDB
(where `explain` has no `filterPushdown`) the declared indexes serve these queries
themselves, and there is nothing to check.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from string import ascii_lowercase
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


async def test_gin_indexes_keep_no_pending_list(runtime: Runtime, settings: Settings) -> None:
    """With GIN's pending list, every scan reads all the entries written since the last
    vacuum: an idle round of the sweeps took 9.3 ms after 25,000 bookings were written,
    6.0 ms once the list was merged."""
    url = os.environ.get("FERRETDB_POSTGRESQL_URL")
    if not url:
        pytest.skip("not FerretDB on PostgreSQL (scripts/services env sets the URL)")
    db = runtime.mongo[settings.database]
    # FerretDB names a table after its collection's letters (and a hash of the name).
    letters = "".join(secrets.choice(ascii_lowercase) for _ in range(8))
    collection = db[f"pending_{letters}"]
    await collection.create_index([("owner_id", 1), ("start", -1)])
    try:
        psql = await asyncio.create_subprocess_exec(
            *("psql", url, "-XAt", "-v", f"schema={settings.database}"),
            *("-v", f"table={collection.name}_%"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await psql.communicate(GIN_OPTIONS.encode())
        assert psql.returncode == 0
        options = out.decode().split()
        assert len(options) == 2, options  # _id and owner_id
        assert set(options) == {"fastupdate=off"}, options
    finally:
        await collection.drop()


GIN_OPTIONS = """
SELECT coalesce(array_to_string(i.reloptions, ','), 'none')
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_am am ON am.oid = i.relam
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE am.amname = 'gin' AND n.nspname = :'schema' AND t.relname LIKE :'table'
"""


async def assert_read_through_index(db: Any, name: str, query: dict[str, Any]) -> None:
    answer = await db.command({"explain": {"find": name, "filter": query}})
    if "filterPushdown" not in answer:
        pytest.skip("not FerretDB: the database serves its declared indexes itself")
    assert answer["filterPushdown"] is True
    nodes = scans(answer["queryPlanner"]["Plan"])
    assert "Seq Scan" not in nodes, (query, nodes)
    assert any("Index" in node for node in nodes), (query, nodes)
