"""What the frontend's real queries cost in SQL: the API benchmark's documents and the customer
overview queries the other tests send, replayed under the statement counter. Each costs exactly
the statements pinned here, and the overview's one statement reads exactly the parts pinned
here: a field that adds a query, or a part read for nothing, fails this test."""

from __future__ import annotations

import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import strawberry
from test_worklist_model import rank

from api.helpers import TODAY, Api, Portfolio, when
from api.test_overview_api import (
    AGING_ONLY,
    ALIASED,
    FRAGMENTED,
    PAGE,
    QUERY,
    TIMELINES,
    overview,
    unpaged,
)
from api.test_rules_api import AMOUNT, SEEN_BY_OTHERS
from ledger_collect.api.context import Info
from ledger_collect.api.overview_parts import NOTES, Reads, ReadsBelow
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import (
    assign_customer,
    post_invoice,
    register_customer,
)
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import api_drive

#: Casework reached below the lists: the conversation's person and the records' customer come
#: in the overview's statement too.
NESTED = """query ($id: UUID!) { customerOverview(id: $id) {
  conversations { nodes { personReached { name } customer { number } } }
  promises { nodes { customer { headOffice { number } } } } } }"""

#: Per document: (statements one request costs, parts the overview's statement reads: one
#: array each, the timeline's first page included; None when no overview is asked for).
COSTS: dict[str, tuple[int, int | None]] = {
    # the customer, head office, branches, open items (and the aging grid), credits, promises,
    # disputes, follow-ups, contacts, conversations, the timeline's first 20 entries
    "api_drive.OVERVIEW": (1, 11),
    "api_drive.WORKLIST": (2, None),  # the active strategies, the page of the day's ranking
    "api_drive.AGING": (4, None),  # the grid, the top and the oldest balances, their customers
    "api_drive.AGING of a segment": (4, None),
    "api_drive.POLL": (1, None),
    # every part, then the dispute notes (one query for every case)
    "test_overview_api.QUERY": (2, 14),
    "test_overview_api.ALIASED": (2, 14),
    "test_overview_api.AGING_ONLY": (1, 2),  # the customer, its open items
    # the customer and a first page of 3; then the default page and the page of promises
    "test_overview_api.TIMELINES": (3, 2),
    "test_overview_api.FRAGMENTED": (1, 5),
    "test_overview_api.PAGE": (1, 3),
    "test_rules_api.AMOUNT": (3, 1),  # the customer; the active strategies, the amounts
    "test_rules_api.SEEN_BY_OTHERS": (2, 4),  # the timeline query, then the overview
    "NESTED": (1, 5),  # the customer, head office, promises, conversations, contact persons
}


def _documents(portfolio: Portfolio) -> dict[str, tuple[str, dict[str, Any], str]]:
    """Each document with the variables and the user it is sent with."""
    north, south = str(portfolio.north), str(portfolio.south)
    later = str(TODAY + timedelta(days=30))
    return {
        "api_drive.OVERVIEW": (api_drive.OVERVIEW, {"id": north}, "sue"),
        "api_drive.WORKLIST": (api_drive.WORKLIST, {}, "anna"),
        "api_drive.AGING": (api_drive.AGING, {"segment": None}, "sue"),
        "api_drive.AGING of a segment": (api_drive.AGING, {"segment": "north"}, "sue"),
        "api_drive.POLL": (api_drive.POLL, {"id": north}, "alice"),
        "test_overview_api.QUERY": (QUERY, {"id": north}, "alice"),
        "test_overview_api.ALIASED": (ALIASED, {"a": north, "b": south}, "audrey"),
        "test_overview_api.AGING_ONLY": (AGING_ONLY, {"id": north, "day": later}, "audrey"),
        "test_overview_api.TIMELINES": (TIMELINES, {"id": north, "n": 3}, "audrey"),
        "test_overview_api.FRAGMENTED": (FRAGMENTED, {"id": north}, "audrey"),
        "test_overview_api.PAGE": (PAGE, {"id": north, "first": 5, "after": None}, "root"),
        "test_rules_api.AMOUNT": (AMOUNT, {"id": north, "on": str(TODAY)}, "alice"),
        "test_rules_api.SEEN_BY_OTHERS": (SEEN_BY_OTHERS, {"id": south}, "bob"),
        "NESTED": (NESTED, {"id": north}, "alice"),
    }


def _on_annas_list(app: Collections) -> None:
    """C-3 (north), anna's, overdue and not followed up: her worklist has an entry."""
    erp = when(40, "erp")
    customer = app.run(
        register_customer, number="C-3", name="Customer C-3", segment="north",
        credit_limit=Decimal("5000.00"), currency="EUR", risk_class="B", source_id="md-C-3",
        **erp).result
    app.run(post_invoice, customer_number="C-3", document_number="INV-C-3",
            amount=Decimal("800.00"), currency="EUR", posting_date=TODAY - timedelta(days=40),
            due_date=TODAY - timedelta(days=10), source_id="inv-C-3", **erp)
    app.run(assign_customer, customer, "anna", **erp)


def test_every_query_costs_the_statements_pinned(
        api: Api, app: Collections, busy: Portfolio, database: Database,
        sql_queries: list[str]) -> None:
    """Each sent twice: the overview works out its parts the first time, and takes them from
    what it kept the second."""
    _on_annas_list(app)
    catch_up(app)
    rank(database)  # the day's ranking, as the projector stores it
    costs: dict[str, set[tuple[int, int | None]]] = {}
    for name, (document, variables, user) in _documents(busy).items():
        for _ in range(2):
            sql_queries.clear()
            data = api.data(document, variables, user=user)
            assert all(value is not None for value in data.values()), (name, data)
            arrays = [q.count("ARRAY(SELECT") for q in sql_queries if "ARRAY(SELECT" in q]
            assert len(arrays) <= 1, (name, sql_queries)
            costs.setdefault(name, set()).add((len(sql_queries), arrays[0] if arrays else None))
        if name == "api_drive.WORKLIST":
            assert [n["number"] for n in data["worklist"]["nodes"]] == ["C-3"]
    assert costs == {name: {cost} for name, cost in COSTS.items()}


def test_an_overview_costs_the_same_whatever_the_number_of_items_and_of_overviews(
        api: Api, busy: Portfolio, sql_queries: list[str]) -> None:
    overview(api, "audrey", busy.south)  # one of each part
    few = list(sql_queries)
    sql_queries.clear()
    overview(api, "audrey", busy.north)  # 21 items, five of each casework record
    many = list(sql_queries)
    sql_queries.clear()
    both = api.data(ALIASED, {"a": str(busy.north), "b": str(busy.south)}, user="audrey")
    aliased = list(sql_queries)
    assert len(unpaged(both["a"])["openItems"]) == 21
    assert len(unpaged(both["b"])["openItems"]) == 1
    # One statement for the customer, its head office and its lists (branches, contacts,
    # notes, open items, credits, promises, disputes, resubmissions, activities, emails,
    # conversations, the timeline's first page; the aging grid is worked out from the open
    # items), then the dispute notes.
    assert len(few) == len(many) == len(aliased) == 2, (few, many, aliased)
    assert all(query.count("ARRAY(SELECT") == 14 for query in (few[0], many[0], aliased[0]))


PAGE_OF = """query ($id: UUID!, $n: Int!) { customerOverview(id: $id) {
  timeline(first: $n) { nodes { event } pageInfo { hasNextPage } } } }"""


def test_a_first_timeline_page_of_a_variable_length_is_read_with_the_overview(
        api: Api, busy: Portfolio, sql_queries: list[str]) -> None:
    """Each request's own length, in the overview's one statement."""
    for length in (2, 5, 2):
        sql_queries.clear()
        found = api.data(PAGE_OF, {"id": str(busy.north), "n": length})["customerOverview"]
        assert len(found["timeline"]["nodes"]) == length
        assert found["timeline"]["pageInfo"]["hasNextPage"] is True
        assert len(sql_queries) == 1 and f"LIMIT {length + 1}" in sql_queries[0], sql_queries


@strawberry.type
class Said:
    @strawberry.field(extensions=[Reads(NOTES)])
    def noted(self, info: Info) -> int:
        return 1

    @strawberry.field
    def counted(self) -> int:  # no info: no loader within reach
        return 2


@strawberry.type
class Unsaid:
    @strawberry.field
    def quiet(self, info: Info) -> int:
        return 3


@strawberry.type
class Above:
    said: Said
    below: list[Unsaid | None]


def test_a_field_that_can_reach_the_loaders_must_say_what_it_reads() -> None:
    assert ReadsBelow(Said).parts == {NOTES}
    with pytest.raises(TypeError, match="Unsaid.quiet can reach the request's loaders"):
        ReadsBelow(Above)
