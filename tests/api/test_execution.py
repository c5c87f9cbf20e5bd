"""FastExecutionContext answers exactly what graphql-core's own execution answers: the same
data, in the same order, and the same errors at the same paths, whatever mix of plain fields,
resolvers, aliases, fragments, enums, lists and nulls a query asks for."""

from __future__ import annotations

import asyncio
import enum
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from graphql.execution import executor
from graphql.execution.collect_fields import collect_subfields
from strawberry.extensions import ParserCache
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from ledger_collect.api.schema import schema as api_schema
from ledger_collect.speedups.execution import FastExecutionContext


@strawberry.enum
class Status(enum.Enum):
    OPEN = "open"
    KEPT = "kept"


@strawberry.type
class Item:
    number: str
    amount: Decimal
    status: Status
    tags: list[str]
    note: str | None
    due: int  # non-null: some items break it below

    @strawberry.field
    def doubled(self) -> Decimal:
        return self.amount * 2

    @strawberry.field
    async def later(self, suffix: str = "!") -> str:
        await asyncio.sleep(0)
        return self.number + suffix


def _items(broken: bool) -> list[Item]:
    return [Item(number=f"N{i}", amount=Decimal(f"{i}.50"), status=Status.KEPT if i % 2
                 else Status.OPEN, tags=["a", f"t{i}"], note=None if i % 3 else "n",
                 due=None if broken and i == 2 else i)  # type: ignore[arg-type]
            for i in range(1, 5)]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return _items(broken=False)

    @strawberry.field
    def broken(self) -> list[Item]:
        return _items(broken=True)

    @strawberry.field
    def maybe(self) -> Item | None:
        return _items(broken=True)[1]

    @strawberry.field
    def gaps(self) -> list[Item | None]:
        return [None, *_items(broken=False), None]

    @strawberry.field
    def holes(self) -> list[Item]:  # a null where the items may not be
        return [*_items(broken=False)[:2], None]  # type: ignore[list-item]

    @strawberry.field
    def odd(self) -> list[Item]:
        # Values that are not their scalar's own answers: an int for a String, a bool for an
        # Int (serialized 7 -> "7", True -> 1), and an Int beyond 32 bits (an error).
        items = _items(broken=False)
        items[0].number, items[1].due = 7, True  # type: ignore[assignment]
        items[2].due = 2**40
        return items

    @strawberry.field
    def streamed(self) -> list[Item]:
        return (item for item in _items(broken=False))  # type: ignore[return-value]


QUERIES = [
    "{ items { number amount status tags note due } }",
    "{ items { due first: number doubled tags __typename again: amount note } }",
    '{ items { ...parts later(suffix: "?") status } } fragment parts on Item { note number }',
    "{ items { later number } broken { number due } }",  # a non-null field returns null
    "{ maybe { number due } items { number } }",
    "{ items { number ... on Item { amount status } } }",
    "{ gaps { number amount tags } }",
    "{ holes { number } items { number } }",
    "{ odd { number due } }",
    "{ odd { number } }",
    "{ streamed { number status } }",
]


def _schema(context_class: type) -> strawberry.Schema:
    # Parsed documents cached, as the API's: a query sent again brings the same nodes.
    return strawberry.Schema(query=Query, execution_context_class=context_class,
                             extensions=[lambda: ParserCache(maxsize=64)])


def _run(context_class: type, query: str, variables: dict[str, Any] | None = None,
         schema: strawberry.Schema | None = None) -> dict[str, Any]:
    schema = schema or _schema(context_class)
    result = asyncio.run(schema.execute(query, variable_values=variables))
    return {"data": result.data,
            "errors": [(e.message, e.path) for e in result.errors or []]}


# When a non-null error nulls the whole answer, graphql-core leaves the other fields' coroutines
# unawaited (the stock execution as much as ours): asyncio.run then warns about them.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_fast_execution_answers_what_graphql_core_answers() -> None:
    for query in QUERIES:
        fast = _run(FastExecutionContext, query)
        stock = _run(StrawberryGraphQLCoreExecutionContext, query)
        assert fast == stock, query
        assert list(map(list, _keys(fast["data"]))) == list(map(list, _keys(stock["data"])))


DIRECTED = """query ($x: Boolean!) { items { number note @include(if: $x)
  ... on Item @skip(if: $x) { amount } ...more } } fragment more on Item { due @include(if: $x) }"""


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_answers_stay_graphql_cores_when_a_query_comes_again() -> None:
    """Subfields and plans are kept across requests for documents without directives; a
    document with directives is collected anew each time, as its variables decide."""
    fast, stock = _schema(FastExecutionContext), _schema(StrawberryGraphQLCoreExecutionContext)
    asked = [(query, None) for query in QUERIES] + [
        (DIRECTED, {"x": True}), (DIRECTED, {"x": False})]
    for _ in range(3):
        for query, variables in asked:
            assert _run(FastExecutionContext, query, variables, fast) == _run(
                StrawberryGraphQLCoreExecutionContext, query, variables, stock), query
    shown = _run(FastExecutionContext, DIRECTED, {"x": True}, fast)["data"]["items"][0]
    assert list(shown) == ["number", "note", "due"]
    shown = _run(FastExecutionContext, DIRECTED, {"x": False}, fast)["data"]["items"][0]
    assert list(shown) == ["number", "amount"]


def test_a_query_sent_again_is_not_collected_again(monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        collected.append(args[4].name)  # the runtime type
        return collect_subfields(*args, **kwargs)

    monkeypatch.setattr(executor, "collect_subfields", counting)
    schema = _schema(FastExecutionContext)
    query = "{ items { number ...parts } } fragment parts on Item { note }"
    _run(FastExecutionContext, query, schema=schema)
    assert collected == ["Item"]
    _run(FastExecutionContext, query, schema=schema)
    assert collected == ["Item"]  # kept from the first time
    _run(FastExecutionContext, DIRECTED, {"x": True}, schema)
    _run(FastExecutionContext, DIRECTED, {"x": True}, schema)
    assert collected == ["Item"] * 3  # directives: collected each time


def test_a_null_in_a_non_null_plain_field_is_the_usual_error() -> None:
    answer = _run(FastExecutionContext, "{ broken { number due } }")
    assert answer["data"] is None
    assert answer["errors"] == [
        ("Cannot return null for non-nullable field Item.due.", ["broken", 1, "due"])]


class _Counting(FastExecutionContext):
    objects = 0  # objects whose fields were executed one object at a time

    def execute_fields(self, *args: Any, **kwargs: Any) -> Any:
        _Counting.objects += 1
        return super().execute_fields(*args, **kwargs)


def test_a_list_of_objects_with_plain_fields_is_completed_in_one_loop() -> None:
    _Counting.objects = 0
    answer = _run(_Counting, "{ gaps { number amount status tags note due } }")
    assert answer["data"]["gaps"][1] == {"number": "N1", "amount": "1.50", "status": "KEPT",
                                         "tags": ["a", "t1"], "note": None, "due": 1}
    assert _Counting.objects == 1  # the query's root only: no item went field by field
    _Counting.objects = 0
    _run(_Counting, "{ gaps { number doubled } }")  # a resolver: every item its own way
    assert _Counting.objects == 1 + 4


def test_the_api_schema_executes_with_it() -> None:
    assert api_schema.execution_context_class is FastExecutionContext


def _keys(value: Any) -> list[Any]:
    """Every object's keys, in order, depth first (dict equality ignores order)."""
    if isinstance(value, dict):
        return [list(value), *[k for v in value.values() for k in _keys(v)]]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []
