"""The short path for plain attributes answers exactly what graphql-core's own path does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NewType

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig
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
class Pair:
    left: Item
    right: Item | None


async def _text(value: str) -> str:
    return value


def _later(value: str) -> Any:
    """An attribute whose value is awaitable, which only graphql-core's path awaits."""
    return _text(value)


# A scalar whose serialisation refuses some values by answering null.
Even = NewType("Even", int)
EVEN = strawberry.scalar(name="Even", serialize=lambda value: value if value % 2 == 0 else None)


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
    def gaps(self) -> list[Item | None]:
        return [Item(text="f", number=6), None]

    @strawberry.field
    def null_in_required(self) -> list[Item]:
        return [Item(text="g", number=7), None]  # type: ignore[list-item]

    @strawberry.field
    def lazy(self) -> list[Item]:
        return [Item(text="i", number=10), Item(text=_later("j"), number=11)]

    @strawberry.field
    def pairs(self) -> list[Pair]:
        first, second = Item(text="k", number=12), Item(text=None, number=13)
        return [Pair(left=first, right=None), Pair(left=second, right=first)]

    @strawberry.field
    def broken_pairs(self) -> list[Pair]:
        return [Pair(left=Item(text="l", number=14), right=None), Pair(left=None, right=None)]  # type: ignore[arg-type]

    @strawberry.field
    def pair(self) -> Pair:
        return Pair(left=Item(text="m", number=15), right=Item(text="n", number=16))

    @strawberry.field
    def aliased(self) -> Item:
        return Item(text="e", number=5)

    @strawberry.field
    def numbers(self) -> list[int]:
        return [1, 2, 3]

    @strawberry.field
    def times(self) -> list[datetime]:
        return [datetime(2026, 11, 26, 9, 30, tzinfo=UTC), datetime(2026, 11, 26, 10, 0)]

    @strawberry.field
    def sparse(self) -> list[str | None]:
        return ["o", None, "p"]

    @strawberry.field
    def holes(self) -> list[int] | None:
        return [1, None, 3]  # type: ignore[list-item]

    @strawberry.field
    def strange(self) -> list[int]:
        return [4, "five"]  # type: ignore[list-item]

    @strawberry.field
    def awaited(self) -> list[str]:
        return ["q", _later("r")]

    @strawberry.field
    def nested(self) -> list[list[int]]:
        return [[1, 2], [3]]

    @strawberry.field
    def evens(self) -> list[Even]:
        return [Even(2), Even(4)]

    @strawberry.field
    def odd(self) -> list[Even]:
        return [Even(2), Even(3)]


QUERIES = [
    "{ items { text number } }",
    "{ unserialisable { text number } }",
    "{ missing { text number } }",
    "{ aliased { n: number t: text number } }",
    "{ items { ... on Item { number } text @skip(if: true) } }",
    "{ items { __typename number double text } }",
    "{ gaps { text number } }",
    "{ nullInRequired { text number } }",
    "{ lazy { text number } }",
    "{ items { n: number number } more: items { text } }",
    "{ pairs { left { text number } right { number } } }",
    "{ pairs { left { double } right { text } } }",
    "{ brokenPairs { left { number } } }",
    "{ pair { left { text } right { n: number } } }",
    "{ pairs { left { text @include(if: false) number } r: right { number } } }",
    "{ pairs { left { ... on Item { text } } } }",
    "{ numbers times sparse holes }",
    "{ strange }",
    "{ awaited }",
    "{ nested }",
    "{ evens }",
    "{ odd }",
]


def schema(**options: Any) -> strawberry.Schema:
    return strawberry.Schema(Query, config=StrawberryConfig(scalar_map={Even: EVEN}), **options)


async def test_both_paths_answer_the_same() -> None:
    fast = schema(execution_context_class=PlainFieldsExecution)
    plain = schema()
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
    fast = schema(execution_context_class=PlainFieldsExecution)
    answer = await fast.execute(QUERIES[0])
    assert answer.errors is None
    assert reached == ["items"]

    reached.clear()
    await fast.execute(QUERIES[2])
    assert reached == ["missing", "number"]  # a null where none is allowed: the full path


@pytest.fixture
def items(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The list items graphql-core completes one by one, as they are completed."""
    completed: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.complete_list_item_value

    def counted(self: Any, item: Any, *rest: Any) -> Any:
        completed.append(repr(item))
        return original(self, item, *rest)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "complete_list_item_value", counted)
    return completed


async def test_a_list_of_plain_objects_is_completed_in_one_loop(items: list[str]) -> None:
    """graphql-core completes no item of such a list one by one; a list with an item out of
    the ordinary is completed by graphql-core's own path, whole."""
    fast = schema(execution_context_class=PlainFieldsExecution)
    plain_lists = (
        "{ items { text number } }",
        "{ gaps { number } }",
        "{ pairs { left { text number } right { number } } }",
    )
    for query in plain_lists:
        answer = await fast.execute(query)
        assert answer.errors is None and items == [], query
    answer = await fast.execute("{ items { number double } }")
    assert answer.data == {"items": [{"number": 1, "double": 2}, {"number": 2, "double": 4}]}
    assert len(items) == 2  # a resolver in the selection: item by item

    items.clear()
    answer = await fast.execute("{ lazy { text } }")
    assert answer.data == {"lazy": [{"text": "i"}, {"text": "j"}]}
    assert len(items) == 2


async def test_a_list_of_scalars_is_serialised_in_one_loop(items: list[str]) -> None:
    """As a list of plain objects: no item one by one, unless one is out of the ordinary."""
    fast = schema(execution_context_class=PlainFieldsExecution)
    answer = await fast.execute("{ numbers times sparse }")
    assert answer.errors is None and items == []
    assert answer.data == {
        "numbers": [1, 2, 3],
        "times": ["2026-11-26T09:30:00+00:00", "2026-11-26T10:00:00"],
        "sparse": ["o", None, "p"],
    }
    answer = await fast.execute("{ strange }")
    assert answer.errors and len(items) == 2  # graphql-core's path, whole, with its error
    items.clear()
    answer = await fast.execute("{ odd }")  # serialised as null: graphql-core's path too
    assert answer.errors and len(items) == 2
