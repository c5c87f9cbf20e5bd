"""The worklist over HTTP: a specialist's morning list ranked and explained, other lists read-only,
follow-ups and processed customers, the day as an argument, pages, strategy versions — and what
a page costs in SQL sql_queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from test_worklist_model import RISK_FIRST, Book, ago, rank

from api.helpers import TODAY, Api
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import create_resubmission, open_dispute
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.commands.receivable_commands import raise_dunning_level
from ledger_collect.domain.customer import Customer
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.worklist.strategy_versions import publish
from ledger_collect.storage.database import Database

WORKLIST = """
query ($specialist: String, $unassigned: Boolean! = false, $date: Date,
       $includeProcessed: Boolean! = false, $processedOnly: Boolean! = false,
       $strategyCode: String, $strategyVersion: Int, $first: Int! = 50, $after: String) {
  worklist(specialist: $specialist, unassigned: $unassigned, date: $date,
           includeProcessed: $includeProcessed, processedOnly: $processedOnly,
           strategyCode: $strategyCode, strategyVersion: $strategyVersion, first: $first,
           after: $after) {
    specialist asOf totalCount
    strategies { code version active }
    pageInfo { hasNextPage hasPreviousPage endCursor }
    nodes {
      rank number specialist score strategyCode strategyVersion currency
      overdueAmount amountToCollect underDispute underPromise underDunningNotice
      followedUpLater openAmount oldestDueDate daysOverdue brokenPromises
      highestDunningLevel openDisputes disputedAmount processedToday processedBy nextFollowUp
      explanation { rule points detail }
    }
  }
}"""


def worklist(api: Api, app: Collections, user: str = "alice", **variables: Any) -> Any:
    catch_up(app, "worklist")
    return api.data(WORKLIST, variables, user=user)["worklist"]


def numbers(page: dict[str, Any]) -> list[str]:
    return [node["number"] for node in page["nodes"]]


@pytest.fixture
def three(app: Collections) -> Book:
    """Alice's BIG (12,000.00 a hundred days overdue, risk D), MID (1,500.00, 40 days) and
    SMALL (50.00, 2 days); bob's BOB; the unassigned NOBODY."""
    book = Book(app)
    for number, amount, days, risk, who in (
            ("BIG", "12000.00", 100, "D", "alice"), ("MID", "1500.00", 40, "B", "alice"),
            ("SMALL", "50.00", 2, "A", "alice"), ("BOB", "700.00", 10, "B", "bob"),
            ("NOBODY", "900.00", 10, "C", None)):
        book.customer(number, risk=risk, specialist=who)
        book.invoice(number, amount, due_ago=days)
    return book


def test_my_list_is_ranked_explained_and_costs_two_queries(
        api: Api, app: Collections, database: Database, three: Book,
        sql_queries: list[str]) -> None:
    page = worklist(api, app)
    assert (page["specialist"], page["asOf"], page["totalCount"]) == ("alice", str(TODAY), 3)
    assert page["strategies"] == [{"code": "default", "version": 1, "active": True}]
    assert [(n["number"], n["score"], n["rank"]) for n in page["nodes"]] == [
        ("BIG", 95, 1), ("MID", 20, 2), ("SMALL", 0, 3)]
    big = page["nodes"][0]
    assert big["explanation"] == [
        {"rule": "large overdue amount", "points": 30,
         "detail": "12,000.00 EUR overdue, at least 10,000.00"},
        {"rule": "overdue amount", "points": 10,
         "detail": "12,000.00 EUR overdue, at least 1,000.00"},
        {"rule": "long overdue", "points": 25,
         "detail": "oldest item 100 days overdue, more than 90"},
        {"rule": "overdue over a month", "points": 10,
         "detail": "oldest item 100 days overdue, more than 30"},
        {"rule": "broken promise", "points": 0,
         "detail": "0 promise(s) broken in the last 90 days, less than 1"},
        {"rule": "dunned twice or more", "points": 0,
         "detail": "highest dunning level 0, less than 2"},
        {"rule": "high risk", "points": 20, "detail": "risk class D, one of D, E"},
        {"rule": "open dispute", "points": 0, "detail": "0 open dispute(s), less than 1"}]
    for node in page["nodes"]:
        assert sum(line["points"] for line in node["explanation"]) == node["score"]
    assert (big["overdueAmount"], big["amountToCollect"], big["daysOverdue"],
            big["oldestDueDate"], big["strategyCode"], big["strategyVersion"]) == (
        "12000.00", "12000.00", 100, str(ago(100)), "default", 1)
    rank(database)  # the day's ranking, as the projector stores it
    sql_queries.clear()
    for first in (1, 50):
        catch_up(app, "worklist")
        api.data("query ($first: Int!) { worklist(first: $first) { nodes { number score"
                 " explanation { points } } } }", {"first": first}, user="alice")
    assert len(sql_queries) == 4, sql_queries  # per page: the active strategies, the page itself
    sql_queries.clear()
    assert worklist(api, app, first=1)["totalCount"] == 3
    assert len(sql_queries) == 3, sql_queries  # and the count, when asked for


def test_other_specialists_and_unassigned_customers_are_listable(
        api: Api, app: Collections, three: Book) -> None:
    assert numbers(worklist(api, app, user="bob")) == ["BOB"]
    assert numbers(worklist(api, app, user="bob", specialist="alice")) == [
        "BIG", "MID", "SMALL"]
    unassigned = worklist(api, app, user="alice", unassigned=True)
    assert (unassigned["specialist"], numbers(unassigned)) == (None, ["NOBODY"])
    assert numbers(worklist(api, app, user="audrey", specialist="bob")) == ["BOB"]
    errors = api.errors(WORKLIST, {"specialist": "bob", "unassigned": True}, user="alice")
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "not both" in errors[0]["message"]


def test_follow_up_today_vs_tomorrow_and_processed_today(api: Api, app: Collections,
                                                         three: Book) -> None:
    big, mid = Customer.create_id("BIG"), Customer.create_id("MID")
    app.run(create_resubmission, big, follow_up_date=TODAY + timedelta(days=1), reason="holiday",
            actor="alice", business_date=ago(2))
    app.run(create_resubmission, mid, follow_up_date=TODAY, reason="call back", actor="alice",
            business_date=ago(2))
    assert numbers(worklist(api, app)) == ["MID", "SMALL"]
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    assert numbers(worklist(api, app, date=tomorrow)) == ["BIG", "MID", "SMALL"]
    done = api.data("""mutation ($id: UUID!) { recordContact(input: {customerId: $id,
        channel: "phone", result: "no_answer"}) { __typename } }""", {"id": str(mid)},
                    user="alice")
    assert done["recordContact"]["__typename"] != "RuleBroken"
    assert numbers(worklist(api, app)) == ["SMALL"]
    everyone = worklist(api, app, includeProcessed=True)
    assert [(n["number"], n["processedToday"], n["processedBy"]) for n in everyone["nodes"]] == [
        ("MID", True, ["alice"]), ("SMALL", False, [])]
    assert numbers(worklist(api, app, processedOnly=True)) == ["MID"]
    assert numbers(worklist(api, app, date=tomorrow)) == ["BIG", "MID", "SMALL"]


def test_the_day_decides_days_overdue_and_amounts(api: Api, app: Collections) -> None:
    book = Book(app)
    customer = book.customer("EDGE")
    book.invoice("EDGE", "999.99", due_ago=30)
    promised = book.invoice("EDGE", "0.01", due_ago=30)
    dunned = book.invoice("EDGE", "250.00", due_ago=30)
    disputed = book.invoice("EDGE", "300.00", due_ago=30)
    later = book.invoice("EDGE", "100.00", due_ago=30)
    app.run(create_resubmission, customer, follow_up_date=TODAY + timedelta(days=1),
            reason="credit note coming", invoice_ids=[later], actor="alice",
            business_date=ago(1))
    app.run(record_promise, invoice_id=promised, amount=Decimal("0.01"),
            promised_date=TODAY + timedelta(days=2), actor="alice",
            business_date=ago(1))
    app.run(raise_dunning_level, dunned, actor="dunning", business_date=ago(13))
    app.run(open_dispute, customer, [disputed], amount=Decimal("300.00"), reason="price",
            processor="pat", actor="anna", business_date=ago(1))
    today = worklist(api, app)["nodes"][0]
    assert (today["daysOverdue"], today["overdueAmount"], today["amountToCollect"],
            today["underPromise"], today["underDunningNotice"], today["underDispute"],
            today["followedUpLater"], today["nextFollowUp"]) == (
        30, "1650.00", "999.99", "0.01", "250.00", "300.00", "100.00",
        str(TODAY + timedelta(days=1)))
    assert {line["rule"]: line["points"] for line in today["explanation"]} == {
        "large overdue amount": 0, "overdue amount": 10, "long overdue": 0,
        "overdue over a month": 0, "broken promise": 0, "dunned twice or more": 0,
        "high risk": 0, "open dispute": 5}
    tomorrow = worklist(api, app, date=(TODAY + timedelta(days=1)).isoformat())["nodes"][0]
    assert (tomorrow["daysOverdue"], tomorrow["amountToCollect"],
            tomorrow["underDunningNotice"], tomorrow["followedUpLater"],
            tomorrow["nextFollowUp"]) == (31, "1349.99", "0.00", "0.00", None)
    assert tomorrow["score"] == today["score"] + 10  # "overdue over a month" from day 31


def test_pages_follow_the_ranking_and_bad_arguments_are_refused(
        api: Api, app: Collections) -> None:
    book = Book(app)
    for n in range(5):
        book.customer(f"P{n}")
        book.invoice(f"P{n}", f"{1000 + n}.00", due_ago=10)  # bigger overdue amount first
    first = worklist(api, app, first=2)
    assert numbers(first) == ["P4", "P3"] and first["pageInfo"]["hasNextPage"]
    second = worklist(api, app, first=2, after=first["pageInfo"]["endCursor"])
    assert numbers(second) == ["P2", "P1"] and second["pageInfo"]["hasPreviousPage"]
    assert [n["rank"] for n in second["nodes"]] == [3, 4]
    last = worklist(api, app, first=2, after=second["pageInfo"]["endCursor"])
    assert (numbers(last), last["pageInfo"]["hasNextPage"], last["totalCount"]) == (
        ["P0"], False, 5)
    for variables, message in (({"after": "bogus"}, "cursor"), ({"first": 0}, "at least 1"),
                               ({"strategyVersion": 1}, "together")):
        error = api.errors(WORKLIST, variables, user="alice")[0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and message in error["message"]


EDGES = """query ($after: String) { worklist(first: 5, after: $after) {
  edges { cursor node { number } } pageInfo { startCursor endCursor } } }"""


def test_every_edges_cursor_continues_after_its_entry(api: Api, app: Collections) -> None:
    book = Book(app)
    for n in range(5):
        book.customer(f"E{n}")
        book.invoice(f"E{n}", f"{1000 + n}.00", due_ago=10)
    catch_up(app, "worklist")
    page = api.data(EDGES, {}, user="alice")["worklist"]
    edges = page["edges"]
    assert [e["node"]["number"] for e in edges] == ["E4", "E3", "E2", "E1", "E0"]
    assert (page["pageInfo"]["startCursor"], page["pageInfo"]["endCursor"]) == (
        edges[0]["cursor"], edges[-1]["cursor"])
    for n, edge in enumerate(edges):
        rest = api.data(EDGES, {"after": edge["cursor"]}, user="alice")["worklist"]["edges"]
        assert [e["node"]["number"] for e in rest] == [
            e["node"]["number"] for e in edges[n + 1:]]


STRATEGIES = """query ($code: String) { collectionStrategies(code: $code) {
  code version segment active createdBy dunningNoticeDays
  rules { name kind points atLeast moreThan riskClasses withinDays } } }"""


def test_a_new_strategy_version_reranks_and_the_old_one_stays_readable(
        api: Api, app: Collections, database: Database, three: Book) -> None:
    assert numbers(worklist(api, app)) == ["BIG", "MID", "SMALL"]
    with database.connect() as conn:
        publish(conn, code="default", definition={"rules": [
            {"name": "small first", "kind": "overdue_amount", "more_than": "100.00",
             "points": -10}]}, actor="root")
    now = worklist(api, app)
    assert [(n["number"], n["score"]) for n in now["nodes"]] == [
        ("SMALL", 0), ("BIG", -10), ("MID", -10)]
    assert now["strategies"] == [{"code": "default", "version": 2, "active": True}]
    old = worklist(api, app, strategyCode="default", strategyVersion=1)
    assert numbers(old) == ["BIG", "MID", "SMALL"]
    assert old["strategies"] == [{"code": "default", "version": 1, "active": False}]
    versions = api.data(STRATEGIES, {"code": "default"}, user="bob")["collectionStrategies"]
    assert [(v["version"], v["active"], len(v["rules"])) for v in versions] == [
        (2, True, 1), (1, False, 8)]
    assert versions[0]["rules"][0] == {
        "name": "small first", "kind": "overdue_amount", "points": -10, "atLeast": None,
        "moreThan": "100.00", "riskClasses": [], "withinDays": None}
    assert versions[1]["createdBy"] == "migration" and versions[1]["dunningNoticeDays"] == 14
    with database.connect() as conn:
        publish(conn, code="north", segment="north", definition=RISK_FIRST, actor="sue")
    segment = worklist(api, app)
    assert {(n["number"], n["strategyCode"]) for n in segment["nodes"]} == {
        ("BIG", "north"), ("MID", "north"), ("SMALL", "north")}
    assert [s["code"] for s in segment["strategies"]] == ["north"]


def test_the_worklist_serves_no_personal_data(api: Api) -> None:
    introspection = api.data("""{ __type(name: "WorklistEntry") {
        fields { name type { name ofType { name ofType { name } } } } } }""")
    names = {field["name"]: str(field["type"]) for field in
             introspection["__type"]["fields"]}
    assert "explanation" in names and "PersonalText" not in "".join(names.values())
