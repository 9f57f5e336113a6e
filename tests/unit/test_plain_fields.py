"""The short path for plain attributes answers exactly what graphql-core's own path does."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from specialistly.api.execution import PlainFieldsExecution


@strawberry.type
class Item:
    text: str | None
    number: int

    @strawberry.field
    def double(self) -> int:
        return self.number * 2


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(text="a", number=1), Item(text=None, number=2)]

    @strawberry.field
    def unserialisable(self) -> list[Item]:
        return [Item(text="a", number=1), Item(text="c", number="x")]  # type: ignore[arg-type]

    @strawberry.field
    def missing(self) -> Item | None:
        return Item(text="d", number=None)  # type: ignore[arg-type]

    @strawberry.field
    def aliased(self) -> Item:
        return Item(text="e", number=5)


QUERIES = [
    "{ items { text number } }",
    "{ unserialisable { text number } }",
    "{ missing { text number } }",
    "{ aliased { n: number t: text number } }",
    "{ items { ... on Item { number } text @skip(if: true) } }",
    "{ items { __typename number double text } }",
]


async def test_both_paths_answer_the_same() -> None:
    fast = strawberry.Schema(Query, execution_context_class=PlainFieldsExecution)
    plain = strawberry.Schema(Query)
    for query in QUERIES:
        ours, theirs = await fast.execute(query), await plain.execute(query)
        assert ours.data == theirs.data, query
        assert [(e.message, e.path) for e in ours.errors or []] == [
            (e.message, e.path) for e in theirs.errors or []
        ], query
    answer = await fast.execute(QUERIES[0])
    assert answer.data == {"items": [{"text": "a", "number": 1}, {"text": None, "number": 2}]}
    refused = await fast.execute(QUERIES[2])
    assert refused.data == {"missing": None}
    assert refused.errors and "non-nullable" in refused.errors[0].message


async def test_the_short_path_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain field never reaches graphql-core's execute_field; a resolver does."""
    reached: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_field

    def counted(self: Any, parent: Any, source: Any, details: Any, *rest: Any) -> Any:
        reached.append(details[0].node.name.value)
        return original(self, parent, source, details, *rest)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counted)
    fast = strawberry.Schema(Query, execution_context_class=PlainFieldsExecution)
    answer = await fast.execute(QUERIES[0])
    assert answer.errors is None
    assert reached == ["items"]

    reached.clear()
    await fast.execute(QUERIES[2])
    assert reached == ["missing", "number"]  # a null where none is allowed: the full path
