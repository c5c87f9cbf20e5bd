"""The customer directory and the casework lists over HTTP: filters, sort orders, cursor pages
(capped, continuing exactly), two SQL queries a page whatever its size, and personal data shown
only to those who may see it — null with FORBIDDEN at its path for everyone else."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands import promise_commands as pr
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import assign_customer, register_customer
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.rows import MAX_PAGE

MODELS = ("customers", "casework", "disputes", "correspondence")
WHO = {"actor": "alice", "business_date": TODAY}

PROMISES = """query($filter: CaseworkFilter, $sort: PromiseSort, $descending: Boolean,
                    $first: Int, $after: String) {
  promises(filter: $filter, sort: $sort, descending: $descending, first: $first,
           after: $after) {
    edges { cursor node { documentNumber amount status promisedDate withdrawalReason
                          customer { number } } }
    nodes { documentNumber }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
FOLLOW_UPS = """query($filter: CaseworkFilter) { resubmissions(filter: $filter,
    sort: FOLLOW_UP_DATE, descending: true) { nodes { followUpDate moves reason moveReason
    customer { number } } } }"""
ACTIVITIES = """query($first: Int, $after: String, $filter: CaseworkFilter) {
  activities(first: $first, after: $after, filter: $filter) {
    nodes { specialist dueDate description closingNote }
    pageInfo { hasNextPage endCursor } } }"""
DISPUTES = """query($processor: String, $filter: CaseworkFilter) {
  disputes(processor: $processor, filter: $filter, sort: STILL_DISPUTED) {
    nodes { processor status originalAmount stillDisputed credited noteCount
            notes { noteId text } customer { number } } } }"""
CUSTOMERS = """query($search: String, $segment: String, $specialist: String,
                     $unassigned: Boolean, $first: Int, $after: String) {
  customers(search: $search, segment: $segment, specialist: $specialist,
            unassigned: $unassigned, first: $first, after: $after) {
    nodes { number name segment specialist contacts { name } }
    pageInfo { hasNextPage endCursor } } }"""
SECRETS = ("north secret", "north holiday", "north task", "north dispute")


@pytest.fixture
def casework(app: Collections, portfolio: Portfolio) -> dict[str, Any]:
    """For each customer (C-1 north, alice's; C-2 south): four more invoices N-1..N-4 /
    S-1..S-4 with promises of 10, 20, 30, 40 promised on TODAY+1..+4, the first withdrawn with
    a reason; a follow-up, an activity and a dispute with a note — all with personal text."""
    batch = app.batch()
    made: dict[str, Any] = {"promises": {}}
    for number, customer, side in (("C-1", portfolio.north, "north"),
                                   ("C-2", portfolio.south, "south")):
        for n in range(1, 5):
            doc = f"{side[0].upper()}-{n}"
            invoice = rc.post_invoice(batch, customer_number=number, document_number=doc,
                                      amount=Decimal("100.00"), currency="EUR",
                                      posting_date=TODAY, due_date=TODAY, source_id=doc,
                                      actor="erp", business_date=TODAY)
            made["promises"][doc] = pr.record_promise(
                batch, invoice_id=invoice, amount=Decimal(10 * n),
                promised_date=TODAY + timedelta(days=n), **WHO)
        pr.withdraw_promise(batch, made["promises"][f"{side[0].upper()}-1"],
                            reason=f"{side} secret", **WHO)
        follow_up = cw.create_resubmission(batch, customer, reason=f"{side} holiday",
                                           follow_up_date=TODAY + timedelta(days=5), **WHO)
        if side == "south":
            cw.move_resubmission(batch, follow_up, TODAY + timedelta(days=9),
                                 reason="south longer", **WHO)
        cw.create_activity(batch, customer, specialist="alice" if side == "north" else "bob",
                           due_date=TODAY + timedelta(days=2), description=f"{side} task",
                           **WHO)
        made[side] = cw.open_dispute(
            batch, customer, [portfolio.north_invoice if side == "north"
                              else portfolio.south_invoice],
            amount=Decimal("300.00") if side == "north" else Decimal("200.00"),
            reason="price", processor="pat" if side == "north" else "quinn",
            note=f"{side} dispute", **WHO)
    cw.record_dispute_progress(batch, made["north"], credited=Decimal("250.00"), **WHO)
    app.save_batch(batch)
    catch_up(app, MODELS)
    return made


def numbers(found: dict[str, Any], field: str = "documentNumber") -> list[str]:
    return [node[field] for node in found["nodes"]]


# -- filters, sorting, pages -------------------------------------------------------------------
def test_promise_list_filters_and_sorts(api: Api, portfolio: Portfolio,
                                        casework: dict[str, Any]) -> None:
    def listed(**variables: Any) -> list[str]:
        return numbers(api.data(PROMISES, variables)["promises"])

    assert [number[-1] for number in listed()] == list("11223344")  # N-n, S-n: day n
    assert listed(filter={"customerId": str(portfolio.south)}) == ["S-1", "S-2", "S-3", "S-4"]
    assert listed(filter={"specialist": "alice", "status": ["open"]}) == ["N-2", "N-3", "N-4"]
    assert sorted(listed(filter={"status": ["withdrawn"],
                                 "dateFrom": str(TODAY + timedelta(days=1)),
                                 "dateTo": str(TODAY + timedelta(days=1))})) == ["N-1", "S-1"]
    assert listed(filter={"dateFrom": str(TODAY + timedelta(days=4))}) in (
        ["N-4", "S-4"], ["S-4", "N-4"])  # one day: then by id
    by_amount = api.data(PROMISES, {"sort": "AMOUNT", "descending": True,
                                    "filter": {"customerId": str(portfolio.north)}})
    assert [e["node"]["amount"] for e in by_amount["promises"]["edges"]] == [
        "40.00", "30.00", "20.00", "10.00"]


def test_pages_continue_exactly_after_their_cursor(api: Api, portfolio: Portfolio,
                                                   casework: dict[str, Any]) -> None:
    north = {"customerId": str(portfolio.north)}
    first = api.data(PROMISES, {"filter": north, "first": 3})["promises"]
    assert numbers(first) == ["N-1", "N-2", "N-3"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    rest = api.data(PROMISES, {"filter": north, "first": 3,
                               "after": first["pageInfo"]["endCursor"]})["promises"]
    assert numbers(rest) == ["N-4"]
    assert rest["pageInfo"]["hasNextPage"] is False and rest["pageInfo"]["hasPreviousPage"]
    middle = api.data(PROMISES, {"filter": north, "first": 1,
                                 "after": first["edges"][0]["cursor"]})["promises"]
    assert numbers(middle) == ["N-2"]


def test_page_size_is_capped(api: Api, app: Collections, portfolio: Portfolio) -> None:
    batch = app.batch()
    for n in range(MAX_PAGE + 3):
        cw.create_activity(batch, portfolio.south, specialist="bob",
                           due_date=TODAY + timedelta(days=n), description=f"task {n}", **WHO)
    app.save_batch(batch)
    catch_up(app, MODELS)
    page = api.data(ACTIVITIES, {"first": 10_000})["activities"]
    assert len(page["nodes"]) == MAX_PAGE == 100 and page["pageInfo"]["hasNextPage"]
    rest = api.data(ACTIVITIES, {"first": 10_000, "after": page["pageInfo"]["endCursor"]})
    assert [n["dueDate"] for n in rest["activities"]["nodes"]] == [
        str(TODAY + timedelta(days=n)) for n in (100, 101, 102)]
    assert len(api.data(ACTIVITIES)["activities"]["nodes"]) == 50  # the default


@pytest.mark.parametrize(("variables", "message"), [
    ({"first": 0}, "ask for at least one row per page (first: 0)"),
    ({"after": "bm90IGEgY3Vyc29y"}, "'bm90IGEgY3Vyc29y' is not a cursor of this list"),
])
def test_bad_page_arguments_are_the_clients_error(api: Api, casework: dict[str, Any],
                                                  variables: dict[str, Any],
                                                  message: str) -> None:
    [error] = api.errors(PROMISES, variables)
    assert (error["message"], error["extensions"], error["path"]) == (
        message, {"code": "BAD_USER_INPUT"}, ["promises"])


def test_a_cursor_of_another_sort_order_is_refused(api: Api, casework: dict[str, Any]) -> None:
    page = api.data(PROMISES, {"sort": "AMOUNT", "first": 2})["promises"]
    [error] = api.errors(PROMISES, {"first": 2, "after": page["pageInfo"]["endCursor"]})
    assert error["message"] == ("this cursor belongs to a list sorted by amount asc, not by "
                                "promised_date asc; ask again from the first page")


def test_disputes_follow_ups_and_activities(api: Api, portfolio: Portfolio,
                                            casework: dict[str, Any]) -> None:
    disputes = api.data(DISPUTES, {})["disputes"]["nodes"]
    assert [(d["customer"]["number"], d["stillDisputed"], d["credited"], d["noteCount"])
            for d in disputes] == [("C-1", "50.00", "250.00", 1), ("C-2", "200.00", "0.00", 1)]
    assert disputes[0]["notes"] == [{"noteId": "opening", "text": "north dispute"}]
    quinn = api.data(DISPUTES, {"processor": "quinn"})["disputes"]["nodes"]
    assert [d["customer"]["number"] for d in quinn] == ["C-2"]
    assert api.data(DISPUTES, {"filter": {"status": ["closed"]}})["disputes"]["nodes"] == []
    follow_ups = api.data(FOLLOW_UPS, {})["resubmissions"]["nodes"]
    assert follow_ups == [
        {"followUpDate": str(TODAY + timedelta(days=9)), "moves": 1, "reason": "south holiday",
         "moveReason": "south longer", "customer": {"number": "C-2"}},
        {"followUpDate": str(TODAY + timedelta(days=5)), "moves": 0, "reason": "north holiday",
         "moveReason": None, "customer": {"number": "C-1"}}]
    bobs = api.data(ACTIVITIES, {"filter": {"specialist": "bob"}})["activities"]["nodes"]
    assert bobs == [{"specialist": "bob", "dueDate": str(TODAY + timedelta(days=2)),
                     "description": "south task", "closingNote": None}]


# -- personal data ------------------------------------------------------------------------------
def test_a_specialist_sees_personal_data_only_of_their_segments_customers(
        api: Api, casework: dict[str, Any]) -> None:
    response = api.post(PROMISES, {"filter": {"status": ["withdrawn"]}}, user="bob")
    assert response.status_code == 200
    assert "north secret" not in response.text
    body = response.json()
    edges = body["data"]["promises"]["edges"]
    reasons = {e["node"]["customer"]["number"]: e["node"]["withdrawalReason"] for e in edges}
    assert reasons == {"C-1": None, "C-2": "south secret"}
    north_at = next(i for i, e in enumerate(edges) if e["node"]["customer"]["number"] == "C-1")
    [error] = body["errors"]
    assert error["path"] == ["promises", "edges", north_at, "node", "withdrawalReason"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["message"] == ("personal data of customers of segment north is hidden from a "
                                "user with role specialist")
    seen_by_alice = api.post(PROMISES, {"filter": {"status": ["withdrawn"]}}, user="alice")
    assert "north secret" in seen_by_alice.text and "south secret" not in seen_by_alice.text


@pytest.mark.parametrize(("query", "fields"), [
    (FOLLOW_UPS, ("reason", "moveReason")), (ACTIVITIES, ("description", "closingNote")),
    (DISPUTES, ("text",))])
def test_every_list_hides_other_segments_personal_data(api: Api, casework: dict[str, Any],
                                                       query: str,
                                                       fields: tuple[str, ...]) -> None:
    response = api.post(query, {}, user="bob")
    assert not any(secret in response.text for secret in SECRETS)
    body = response.json()
    [listed] = body["data"].values()
    assert "south" in response.text  # bob's own segment is shown
    hidden = [tuple(error["path"]) for error in body["errors"]]
    assert sorted(path[-1] for path in hidden) == sorted(fields)  # the north row's
    assert {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}
    assert len(listed["nodes"]) == 2


@pytest.mark.parametrize(("user", "sees"), [("audrey", True), ("carl", False), ("erp", False),
                                            ("sue", True)])
def test_auditors_see_everything_compliance_and_integration_nothing(
        api: Api, casework: dict[str, Any], user: str, sees: bool) -> None:
    response = api.post(FOLLOW_UPS, {}, user=user)
    assert ("north holiday" in response.text) is sees
    if not sees:  # reason and move reason of both rows (also the empty one: no hint)
        assert len(response.json()["errors"]) == 4


# -- SQL queries per page -------------------------------------------------------------------------
def test_a_page_costs_two_queries_whatever_its_size(api: Api, casework: dict[str, Any],
                                                    sql_queries: list[str]) -> None:
    for first in (1, 8):
        sql_queries.clear()
        page = api.data(PROMISES, {"first": first})["promises"]
        assert len(page["edges"]) == first
        assert len(sql_queries) == 2, sql_queries  # the page, then its customers
    sql_queries.clear()
    api.data(DISPUTES, {})  # notes of every case on the page: one more query
    assert len(sql_queries) == 3, sql_queries


# -- the customer directory -------------------------------------------------------------------------
CUSTOMER = """query($id: UUID!) { customer(id: $id) { number name specialist creditLimit
    riskClass changedOn changedBy headOffice { number } branches { number }
    contacts { contactId name isDefault } notes { noteId text writtenBy } } }"""


def test_customer_reads_the_read_model(api: Api, app: Collections,
                                       portfolio: Portfolio) -> None:
    app.run(register_customer, number="C-3", name="Branch of C-1", segment="north",
            credit_limit=Decimal(100), currency="EUR", risk_class="A",
            head_office_number="C-1", source_id="md-C-3", actor="erp",
            business_date=TODAY)
    app.run(assign_customer, portfolio.north, "anna", actor="sue", business_date=TODAY)
    before = api.data(CUSTOMER, {"id": str(portfolio.north)})["customer"]
    assert (before["specialist"], before["branches"]) == ("alice", [])  # not caught up yet
    catch_up(app, MODELS)
    seen = api.data(CUSTOMER, {"id": str(portfolio.north)}, user="alice")["customer"]
    assert seen == {
        "number": "C-1", "name": "Customer C-1", "specialist": "anna",
        "creditLimit": "5000.00", "riskClass": "B", "changedOn": str(TODAY),
        "changedBy": "sue", "headOffice": None, "branches": [{"number": "C-3"}],
        "contacts": [{"contactId": "p1", "name": "Marie Curie", "isDefault": True}],
        "notes": [{"noteId": "n1", "text": "prefers calls after 2 pm", "writtenBy": "erp"}]}
    assert api.data(CUSTOMER, {"id": str(UUID(int=0))})["customer"] is None


def test_customer_search_over_http(api: Api, app: Collections, portfolio: Portfolio) -> None:
    for n in range(3, 6):
        app.run(register_customer, number=f"C-{n}", name=f"Client {n}", segment="south",
                credit_limit=Decimal(100), currency="EUR", risk_class="A",
                source_id=f"md-C-{n}", actor="erp", business_date=TODAY)
    catch_up(app, MODELS)

    def found(**variables: Any) -> dict[str, Any]:
        return api.data(CUSTOMERS, variables, user="audrey")["customers"]

    assert numbers(found(search="c-"), "number") == ["C-1", "C-2", "C-3", "C-4", "C-5"]
    assert numbers(found(search="CLIENT"), "number") == ["C-3", "C-4", "C-5"]
    assert numbers(found(segment="north"), "number") == ["C-1"]
    assert numbers(found(specialist="alice"), "number") == ["C-1"]
    assert numbers(found(unassigned=True, segment="south"), "number") == [
        "C-2", "C-3", "C-4", "C-5"]
    first = found(search="c", first=2)
    assert numbers(first, "number") == ["C-1", "C-2"] and first["pageInfo"]["hasNextPage"]
    rest = found(search="c", first=2, after=first["pageInfo"]["endCursor"])
    assert numbers(rest, "number") == ["C-3", "C-4"]
    response = api.post(CUSTOMERS, {"segment": "north"}, user="bob")
    assert "Marie" not in response.text  # contacts of another segment's customer
    assert response.json()["errors"][0]["path"] == ["customers", "nodes", 0, "contacts", 0,
                                                    "name"]
