"""`timeline(customerId, types, since, first, after)` over HTTP: newest first with concrete rows,
personal parts only for those who may see them, type filter, cursor pages, the 365-day default,
clear errors, and one SQL query for the timelines of several customers in one request."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import record_contact
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.commands.receivable_commands import add_customer_note, apply_payment
from ledger_collect.projections.engine import catch_up

QUERY = """
query ($customer: UUID!, $types: [TimelineEntryType!], $since: Date, $first: Int! = 50,
       $after: String) {
  timeline(customerId: $customer, types: $types, since: $since, first: $first, after: $after) {
    edges { cursor node { occurred type event actor description amount currency details
                          objectId objectVersion recordedAt } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""


def when(days_ago: int, actor: str = "alice") -> dict[str, Any]:
    return {"actor": actor, "business_date": TODAY - timedelta(days=days_ago)}


@pytest.fixture
def history(app: Collections, portfolio: Portfolio) -> Portfolio:
    """C-1 (north) gets a conversation, a promise, a payment and a note of a year and a day ago
    on top of the portfolio's invoice and note; then the timeline catches up."""
    app.run(record_contact, portfolio.north, channel="phone", result="promised",
            contact_person_id="p1", summary="Marie will pay on Friday", **when(2))
    app.run(record_promise, invoice_id=portfolio.north_invoice, amount=Decimal("400.00"),
            promised_date=TODAY + timedelta(days=5), **when(2))
    app.run(apply_payment, source_id="pay-1", customer_number="C-1",
            allocations=[("INV-C-1", Decimal("250.00"))], unapplied=None,
            currency="EUR", payment_date=TODAY - timedelta(days=1), **when(1, "erp"))
    app.run(add_customer_note, portfolio.north, "old", "met at the trade fair", **when(366))
    catch_up(app, "timeline")
    return portfolio


def timeline(api: Api, user: str, customer: Any, **variables: Any) -> dict[str, Any]:
    return api.data(QUERY, {"customer": str(customer), **variables}, user=user)["timeline"]


def rows(connection: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(e["node"]["occurred"], e["node"]["type"], e["node"]["event"], e["node"]["actor"],
             e["node"]["description"], e["node"]["amount"], e["node"]["details"])
            for e in connection["edges"]]


def test_the_segments_specialist_reads_it_newest_first_with_its_personal_parts(
        api: Api, history: Portfolio) -> None:
    found = timeline(api, "alice", history.north)
    assert rows(found) == [
        ("2026-11-22", "PAYMENT", "applied", "erp",
         "Payment pay-1 of 250.00 EUR applied to invoice INV-C-1", "250.00", None),
        ("2026-11-21", "PROMISE", "issued", "alice",
         "Promise to pay 400.00 EUR by 2026-11-28 on invoice INV-C-1 (level 1)", "400.00",
         None),
        ("2026-11-21", "CONTACT", "promised", "alice",
         "Phone conversation by alice: promised", None,
         "contact p1\nMarie will pay on Friday"),
        ("2026-10-14", "NOTE", "added", "erp", "Note added", None, "prefers calls after 2 pm"),
        ("2026-10-14", "INVOICE", "posted", "erp",
         "Invoice INV-C-1 posted: 1000.00 EUR, due 2026-11-13", "1000.00", None),
    ]
    nodes = [e["node"] for e in found["edges"]]
    assert [n["currency"] for n in nodes] == ["EUR", "EUR", None, None, "EUR"]
    assert nodes[0]["objectId"] == str(history.north_invoice) and nodes[0]["objectVersion"] == 3  # posted, promise linked, paid
    assert found["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": False,
                                 "endCursor": found["edges"][-1]["cursor"]}


def test_another_segments_specialist_gets_everything_but_the_personal_parts(
        api: Api, history: Portfolio) -> None:
    response = api.post(QUERY, {"customer": str(history.north)}, user="bob")
    body = response.json()
    assert response.status_code == 200
    nodes = [e["node"] for e in body["data"]["timeline"]["edges"]]
    assert [n["type"] for n in nodes] == ["PAYMENT", "PROMISE", "CONTACT", "NOTE", "INVOICE"]
    assert [n["details"] for n in nodes] == [None] * 5
    assert nodes[2]["description"] == "Phone conversation by alice: promised"
    denied = sorted((tuple(e["path"]), e["extensions"]["code"]) for e in body["errors"])
    assert denied == [(("timeline", "edges", 2, "node", "details"), "FORBIDDEN"),
                      (("timeline", "edges", 3, "node", "details"), "FORBIDDEN")]
    assert "Marie will pay" not in response.text and "2 pm" not in response.text


@pytest.mark.parametrize(("user", "sees"), [("audrey", True), ("sue", True), ("carl", False),
                                            ("erp", False)])
def test_who_sees_the_personal_parts(api: Api, history: Portfolio, user: str,
                                     sees: bool) -> None:
    body = api.post(QUERY, {"customer": str(history.north), "types": ["CONTACT"]},
                    user=user).json()
    (edge,) = body["data"]["timeline"]["edges"]
    assert edge["node"]["details"] == ("contact p1\nMarie will pay on Friday" if sees else None)
    assert ("errors" in body) is not sees


def test_filter_by_type_and_page_through(api: Api, history: Portfolio) -> None:
    first = timeline(api, "alice", history.north, types=["PROMISE", "PAYMENT", "INVOICE"],
                     first=2)
    assert [e["node"]["type"] for e in first["edges"]] == ["PAYMENT", "PROMISE"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = timeline(api, "alice", history.north, types=["PROMISE", "PAYMENT", "INVOICE"],
                    first=2, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["type"] for e in rest["edges"]] == ["INVOICE"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True


def test_the_last_365_days_by_default_and_further_back_when_asked(
        api: Api, history: Portfolio) -> None:
    notes = timeline(api, "alice", history.north, types=["NOTE"])
    assert [e["node"]["details"] for e in notes["edges"]] == ["prefers calls after 2 pm"]
    since = (TODAY - timedelta(days=366)).isoformat()
    older = timeline(api, "alice", history.north, types=["NOTE"], since=since)
    assert [(e["node"]["occurred"], e["node"]["details"]) for e in older["edges"]] == [
        ("2026-10-14", "prefers calls after 2 pm"), (since, "met at the trade fair")]


def test_unknown_customers_bad_cursors_and_empty_pages_are_clear_errors(
        api: Api, history: Portfolio) -> None:
    stranger = "00000000-0000-0000-0000-000000000007"
    (error,) = api.errors(QUERY, {"customer": stranger}, user="alice")
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"] == f"customer {stranger} does not exist"
    (error,) = api.errors(QUERY, {"customer": str(history.north), "after": "nope"},
                          user="alice")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "not a cursor of a timeline" in error["message"]
    (error,) = api.errors(QUERY, {"customer": str(history.north), "first": 0}, user="alice")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    errors = api.errors(QUERY, {"customer": str(history.north), "types": ["LETTER"]},
                        user="alice")
    assert "LETTER" in errors[0]["message"]


def test_timelines_of_several_customers_cost_one_query(api: Api, history: Portfolio,
                                                       sql_queries: list[str]) -> None:
    both = """query ($a: UUID!, $b: UUID!) {
      a: timeline(customerId: $a) { nodes { description } }
      b: timeline(customerId: $b) { nodes { description } }
      c: timeline(customerId: $a, first: 1) { nodes { description } }
    }"""
    data = api.data(both, {"a": str(history.north), "b": str(history.south)}, user="audrey")
    assert len(data["a"]["nodes"]) == 5 and len(data["c"]["nodes"]) == 1
    assert data["b"]["nodes"] == [
        {"description": "Invoice INV-C-2 posted: 1000.00 EUR, due 2026-11-13"}]
    timeline_queries = [q for q in sql_queries if "timeline" in q]
    assert len(timeline_queries) == 2, sql_queries  # one per distinct window: (a, b) and c
