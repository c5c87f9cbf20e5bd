"""`customerOverview(id)` over HTTP: every part with concrete figures, personal parts only for
those who may see them (null + FORBIDDEN at exact paths, also inside lists and the timeline),
the parts read in one statement (what each query costs: ``test_query_costs``), pages, and
read-your-writes: a promise recorded through the API shows in the overview at once."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from graphql.execution.collect_fields import FieldDetails
from starlette.testclient import TestClient

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.api.pages import sliced
from ledger_collect.app import create_api
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import clear_invoice
from ledger_collect.config import Settings
from ledger_collect.projections.casework import PromiseRecord
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.live import follow
from ledger_collect.projections.open_items import OpenItem
from ledger_collect.projections.rows import MAX_PAGE
from ledger_collect.storage.database import Database

PAGED = ("branches", "openItems", "creditMemos", "unappliedPayments", "promises", "disputes",
         "resubmissions", "activities", "emails", "conversations", "timeline")
PARTS = """
  id currency creditLimit openAmount availableCredit
  customer { number name segment specialist notes { text } }
  headOffice { number } branches { nodes { number } }
  contacts { contactId name email phone }
  openItems { nodes { documentNumber openAmount dueDate daysOverdue promiseStatus
                      openDisputes } }
  creditMemos { nodes { sourceId amount } } unappliedPayments { nodes { sourceId amount } }
  aging { buckets rows { currency total cells { bucket amount items } } }
  promises { nodes { amount promisedDate status withdrawalReason customer { number } } }
  disputes { nodes { originalAmount reason status notes { text } } }
  resubmissions { nodes { followUpDate reason } }
  activities { nodes { description dueDate } }
  emails { nodes { template to } }
  conversations { nodes { channel summary personReached { name } } }
  timeline { nodes { type event details } }
"""
QUERY = f"query ($id: UUID!) {{ customerOverview(id: $id) {{ {PARTS} }} }}"
ALIASED = ("query ($a: UUID!, $b: UUID!) {"
           f" a: customerOverview(id: $a) {{ {PARTS} }}"
           f" b: customerOverview(id: $b) {{ {PARTS} }} }}")


def overview(api: Api, user: str, customer: Any) -> dict[str, Any]:
    """The overview with its (first) pages as plain lists (except the timeline's)."""
    return unpaged(api.data(QUERY, {"id": str(customer)}, user=user)["customerOverview"])


def unpaged(found: dict[str, Any]) -> dict[str, Any]:
    return {name: value["nodes"] if name in PAGED[:-1] else value
            for name, value in found.items()}


def test_the_segments_specialist_sees_the_whole_customer(api: Api, busy: Portfolio) -> None:
    found = overview(api, "alice", busy.north)
    assert found["customer"] == {"number": "C-1", "name": "Customer C-1", "segment": "north",
                                 "specialist": "alice",
                                 "notes": [{"text": "prefers calls after 2 pm"}]}
    assert (found["currency"], found["creditLimit"]) == ("EUR", "5000.00")
    assert found["openAmount"] == "3000.00"  # 1000 + 20 x 100
    assert found["availableCredit"] == "2000.00"
    assert found["headOffice"] is None and found["branches"] == []
    assert found["contacts"] == [{"contactId": "p1", "name": "Marie Curie",
                                  "email": "marie@c1.example", "phone": "+33 1 23 45 67 89"}]
    items = found["openItems"]
    assert len(items) == 21
    assert items[0] == {"documentNumber": "INV-C-1-19", "openAmount": "100.00",
                        "dueDate": str(TODAY - timedelta(days=185)), "daysOverdue": 185,
                        "promiseStatus": None, "openDisputes": 0}
    assert items[-1]["documentNumber"] == "INV-C-1-00" and items[-1]["daysOverdue"] == 0
    assert found["creditMemos"] == [{"sourceId": "cm-1", "amount": "75.00"}]
    assert found["unappliedPayments"] == [{"sourceId": "pay-1", "amount": "60.00"}]
    (row,) = found["aging"]["rows"]
    assert found["aging"]["buckets"] == ["not due", "1-30", "31-60", "61-90", "91-120",
                                         "over 120"]
    assert row["total"] == "3000.00"
    assert [(c["amount"], c["items"]) for c in row["cells"]] == [
        ("100.00", 1), ("1300.00", 4), ("300.00", 3), ("300.00", 3), ("300.00", 3),
        ("700.00", 7)]
    assert len(found["promises"]) == 5 and len(found["disputes"]) == 5
    assert {p["status"] for p in found["promises"]} == {"open"}
    assert found["promises"][0]["customer"] == {"number": "C-1"}
    assert min(d["notes"][0]["text"] for d in found["disputes"]) == "north0: price too high"
    assert len(found["resubmissions"]) == len(found["activities"]) == 5
    assert len(found["emails"]) == len(found["conversations"]) == 5
    assert {c["personReached"]["name"] for c in found["conversations"]} == {"Marie Curie"}
    assert {e["to"][0] for e in found["emails"]} == {f"ap@north{n}.example" for n in range(5)}
    types = [n["type"] for n in found["timeline"]["nodes"]]
    assert {"INVOICE", "PROMISE", "DISPUTE", "CONTACT", "NOTE", "EMAIL"} <= set(types)


def test_unknown_customer_is_null(api: Api, busy: Portfolio) -> None:
    data = api.data(QUERY, {"id": "00000000-0000-0000-0000-000000000007"}, user="alice")
    assert data == {"customerOverview": None}


def test_another_segments_specialist_gets_nulls_and_forbidden_at_exact_paths(
        api: Api, busy: Portfolio) -> None:
    response = api.post(QUERY, {"id": str(busy.south)}, user="alice")
    body = response.json()
    found = unpaged(body["data"]["customerOverview"])
    assert found["openAmount"] == "1000.00" and len(found["openItems"]) == 1
    assert found["promises"][0]["amount"] == "100.00"
    assert found["disputes"][0]["notes"] == [{"text": None}]
    assert found["resubmissions"][0]["reason"] is None
    assert found["activities"][0]["description"] is None
    assert found["emails"][0]["to"] is None
    assert found["conversations"][0] == {"channel": "phone", "summary": None,
                                         "personReached": {"name": None}}
    assert found["contacts"] == [{"contactId": None, "name": None, "email": None,
                                  "phone": None}]
    details = [n["details"] for n in found["timeline"]["nodes"]]
    assert any(n["type"] == "CONTACT" for n in found["timeline"]["nodes"])
    assert all(d is None for d in details)
    denied = {tuple(e["path"]) for e in body["errors"]}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    expected = {
        ("customerOverview", "disputes", "nodes", 0, "notes", 0, "text"),
        ("customerOverview", "resubmissions", "nodes", 0, "reason"),
        ("customerOverview", "activities", "nodes", 0, "description"),
        ("customerOverview", "emails", "nodes", 0, "to"),
        ("customerOverview", "conversations", "nodes", 0, "summary"),
        ("customerOverview", "conversations", "nodes", 0, "personReached", "name"),
        ("customerOverview", "contacts", 0, "name"),
        ("customerOverview", "contacts", 0, "email"),
        ("customerOverview", "contacts", 0, "phone"),
        ("customerOverview", "promises", "nodes", 0, "withdrawalReason"),
    }
    assert expected <= denied
    assert all(p[:2] in {("customerOverview", k) for k in (
        "disputes", "resubmissions", "activities", "emails", "conversations", "promises",
        "contacts", "timeline")} for p in denied), denied
    for secret in ("south: will pay", "south: price", "south: call back", "south: check",
                   "ap@south", "Sam South", "sam@c2"):
        assert secret not in response.text


AGING_ONLY = """query ($id: UUID!, $day: Date) { customerOverview(id: $id) {
  today: aging { rows { cells { amount items } } } later: aging(asOf: $day) { asOf
  rows { currency total cells { bucket amount items } } } } }"""


def test_the_aging_grid_alone_reads_the_open_items_in_the_one_statement(
        api: Api, busy: Portfolio, sql_queries: list[str]) -> None:
    """Asked without the open items, on two dates (aliases): one statement, and the grid a
    month on has every item 30 days older."""
    found = api.data(AGING_ONLY, {"id": str(busy.north),
                                  "day": str(TODAY + timedelta(days=30))},
                     user="audrey")["customerOverview"]
    assert len(sql_queries) == 1 and sql_queries[0].count("ARRAY(SELECT") == 2, sql_queries
    (today,) = found["today"]["rows"]
    assert [(c["amount"], c["items"]) for c in today["cells"]] == [
        ("100.00", 1), ("1300.00", 4), ("300.00", 3), ("300.00", 3), ("300.00", 3),
        ("700.00", 7)]
    (later,) = found["later"]["rows"]
    assert found["later"]["asOf"] == str(TODAY + timedelta(days=30))
    assert later["total"] == "3000.00"
    # 30 days on: the invoice due in 5 days is 25 days past due, INV-C-1 40, and three more
    # of the 100.00 ones pass 120 days
    assert [(c["amount"], c["items"]) for c in later["cells"]] == [
        ("0.00", 0), ("100.00", 1), ("1300.00", 4), ("300.00", 3), ("300.00", 3),
        ("1000.00", 10)]


async def _plans_of(pool: Any, statement_contains: str) -> tuple[int, int]:
    """(generic, custom) plans PostgreSQL made for the pool's prepared statements containing
    this text, over all of its connections (each session keeps its own)."""
    held = [await pool.acquire() for _ in range(pool.get_max_size())]
    try:
        generic = custom = 0
        for conn in held:
            for row in await conn.fetch(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                    " WHERE strpos(statement, $1) > 0", statement_contains):
                generic += row["generic_plans"]
                custom += row["custom_plans"]
        return generic, custom
    finally:
        for conn in held:
            await pool.release(conn)


def test_the_overviews_statement_keeps_one_plan(api: Api, busy: Portfolio) -> None:
    """The loaders' pool keeps one (generic) plan per statement: the overview's statement is
    not planned again on each call, as PostgreSQL's own choice (``auto``) did."""
    for _ in range(8):
        api.data(AGING_ONLY, {"id": str(busy.north), "day": str(TODAY)}, user="audrey")
    state = api.client.app.state  # type: ignore[attr-defined]
    generic, custom = api.client.portal.call(_plans_of, state.keyed_pool, "ARRAY(SELECT")
    assert (generic, custom) == (8, 0)
    assert api.client.portal.call(state.pool.fetchval, "SHOW plan_cache_mode") == "auto"


TIMELINES = """query ($id: UUID!, $n: Int!) { customerOverview(id: $id) {
  first: timeline(first: 3) { nodes { type event occurred } pageInfo { hasNextPage endCursor } }
  all: timeline { nodes { event } }
  promises: timeline(types: [PROMISE], first: 2) { nodes { type } }
  asked: timeline(first: $n) { nodes { event } } } }"""
ALONE = """query ($id: UUID!, $n: Int!) { timeline(customerId: $id, first: $n) {
  nodes { type event occurred } pageInfo { hasNextPage endCursor } } }"""


def test_a_first_timeline_page_is_read_with_the_overview_the_others_on_their_own(
        api: Api, busy: Portfolio, sql_queries: list[str]) -> None:
    """The first timeline asked for with no argument but its length comes in the overview's
    statement; the others are read on their own, one query per other window; each page is the
    one the timeline query serves."""
    found = api.data(TIMELINES, {"id": str(busy.north), "n": 3},
                     user="audrey")["customerOverview"]
    overview_statement, *others = sql_queries
    assert overview_statement.count("ARRAY(SELECT") == 2  # the customer, the timeline
    # all (the default length) and the one with types; the one of length $n (3) asks for the
    # page the statement read: the loader has it
    assert len(others) == 2 and "type = ANY" in others[1], others
    sql_queries.clear()
    alone = api.data(ALONE, {"id": str(busy.north), "n": 3}, user="audrey")["timeline"]
    assert found["first"] == alone and len(alone["nodes"]) == 3
    assert alone["pageInfo"]["hasNextPage"] is True
    assert [n["event"] for n in found["asked"]["nodes"]] == [n["event"] for n in alone["nodes"]]
    assert len(found["all"]["nodes"]) > 3
    assert {n["type"] for n in found["promises"]["nodes"]} == {"PROMISE"}


FRAGMENTED = """query ($id: UUID!) { customerOverview(id: $id) { ...Money
  ... on CustomerOverview { promises { nodes { amount } } customer { ...Notes } } } }
fragment Money on CustomerOverview { openItems { nodes { documentNumber } } creditMemos {
  nodes { sourceId } } }
fragment Notes on Customer { notes { text } }"""


def test_parts_asked_through_fragments_are_read_in_the_one_statement(
        api: Api, busy: Portfolio, sql_queries: list[str]) -> None:
    for _ in range(2):  # the second time from the parts worked out the first
        found = api.data(FRAGMENTED, {"id": str(busy.north)}, user="audrey")["customerOverview"]
        assert len(found["openItems"]["nodes"]) == 21
        assert [m["sourceId"] for m in found["creditMemos"]["nodes"]] == ["cm-1"]
        assert len(found["promises"]["nodes"]) == 5
        assert found["customer"]["notes"] == [{"text": "prefers calls after 2 pm"}]
        # customer, open items, credits, promises, notes: one statement, nothing else
        assert len(sql_queries) == 1 and sql_queries[0].count("ARRAY(SELECT") == 5, sql_queries
        sql_queries.clear()


def test_an_answered_overview_leaves_its_rows_to_no_garbage_collector(
        fast_api: Api, busy: Portfolio) -> None:
    """Its rows and the execution's memos are freed when it is answered, not left in
    reference cycles for the collector, whose passes over them are costly (the ``loaders``
    and ``execution`` speed-ups, on here). The loaders themselves, emptied, and graphql-core's
    context do stay in small cycles.

    What is looked for is what the collector would free (the objects of cycles and all they
    hold), not every object alive: the memos kept across requests rightly hold the collected
    fields of the cached document, and whether those show in ``gc.get_objects()`` depends on
    the test order (those kept by earlier tests are frozen by the app's ``tuned_collector``,
    those the first call below keeps are not)."""
    overview(fast_api, "audrey", busy.north)  # caches that live on (plans, parsed documents)
    gc.collect()
    gc.disable()
    try:
        found = overview(fast_api, "audrey", busy.north)
        left = _unreachable(OpenItem, PromiseRecord, FieldDetails)
    finally:
        gc.enable()
    assert len(found["openItems"]) == 21 and len(found["promises"]) == 5
    assert left == []


def _unreachable(*types: type) -> list[Any]:
    """The objects of these types that only reference cycles hold: what a pass of the
    collector would free now."""
    flags, before = gc.get_debug(), len(gc.garbage)
    gc.set_debug(flags | gc.DEBUG_SAVEALL)  # keep what it finds unreachable, to be seen
    try:
        gc.collect()
        return [o for o in gc.garbage[before:] if isinstance(o, types)]
    finally:
        gc.set_debug(flags)
        del gc.garbage[before:]


RECORD = """mutation ($invoice: UUID!, $date: Date!) {
  recordPromise(input: {invoiceId: $invoice, amount: "400.00", promisedDate: $date}) {
    __typename ... on PromiseRecorded { promiseId status }
  }
}"""


@pytest.fixture
def following(app: Collections, api_settings: Settings, database: Database,
              portfolio: Portfolio) -> Iterator[Api]:
    """The API with a projector following the log in a background thread."""
    stop = threading.Event()
    projector = threading.Thread(target=follow, args=(app, stop), daemon=True)
    projector.start()
    settings = api_settings.with_changes(read_wait_seconds=5.0)
    try:
        with TestClient(create_api(settings, database, today=lambda: TODAY),
                        base_url="http://127.0.0.1") as client:
            yield Api(client, settings)
    finally:
        stop.set()
        projector.join(timeout=10)


def test_a_promise_recorded_shows_in_the_overview_and_timeline_at_once(
        following: Api, portfolio: Portfolio) -> None:
    promised = (TODAY + timedelta(days=5)).isoformat()
    recorded = following.data(RECORD, {"invoice": str(portfolio.north_invoice),
                                       "date": promised}, user="alice")["recordPromise"]
    assert recorded["__typename"] == "PromiseRecorded" and recorded["status"] == "open"
    found = overview(following, "alice", portfolio.north)  # no sleep, no catch-up
    assert [(p["amount"], p["promisedDate"], p["status"]) for p in found["promises"]] == [
        ("400.00", promised, "open")]
    assert found["openItems"][0]["promiseStatus"] == "open"
    assert found["timeline"]["nodes"][0] == {"type": "PROMISE", "event": "issued",
                                             "details": None}


PAGE = """query ($id: UUID!, $first: Int!, $after: String) { customerOverview(id: $id) {
  openItems(first: $first, after: $after) {
    nodes { documentNumber } pageInfo { hasNextPage hasPreviousPage endCursor } }
  promises(first: 2) { nodes { amount } pageInfo { hasNextPage endCursor } } } }"""


def test_the_overviews_lists_are_pages(api: Api, app: Collections, busy: Portfolio) -> None:
    def page(first: int, after: str | None = None) -> dict[str, Any]:
        found = api.data(PAGE, {"id": str(busy.north), "first": first, "after": after})
        return found["customerOverview"]  # type: ignore[no-any-return]

    everything = [n["documentNumber"] for n in page(100)["openItems"]["nodes"]]
    assert len(everything) == 21
    seen, after = [], None
    for expected_more in (True, True, True, True, False):  # 5 + 5 + 5 + 5 + 1
        items = page(5, after)["openItems"]
        seen += [n["documentNumber"] for n in items["nodes"]]
        assert items["pageInfo"]["hasNextPage"] is expected_more
        assert items["pageInfo"]["hasPreviousPage"] is (after is not None)
        after = items["pageInfo"]["endCursor"]
    assert seen == everything
    # the last row of a page leaves the list (cleared): the next page starts where it stood
    first = page(5)["openItems"]
    app.run(clear_invoice, source_id="clr", invoice_number=everything[4], actor="erp",
            business_date=TODAY)
    catch_up(app, "open_items")
    after_cleared = page(5, first["pageInfo"]["endCursor"])["openItems"]["nodes"]
    assert [n["documentNumber"] for n in after_cleared] == everything[5:10]
    # cursors belong to their list
    assert len(page(500)["openItems"]["nodes"]) == 20  # what is left: the cleared one is gone
    promises = page(1)["promises"]
    assert promises["pageInfo"]["hasNextPage"] is True and len(promises["nodes"]) == 2
    for first_, cursor, message in (
            (0, None, "ask for at least one row per page (first: 0)"),
            (5, promises["pageInfo"]["endCursor"], ("belongs to the list promises, not to "
                                                  "openItems")),
            (5, "not-a-cursor", "'not-a-cursor' is not a cursor of this list")):
        errors = api.errors(PAGE, {"id": str(busy.north), "first": first_, "after": cursor})
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert message in errors[0]["message"]


def test_a_page_cut_from_a_loaded_list_holds_at_most_max_page_rows() -> None:
    rows = [SimpleNamespace(id=uuid4()) for _ in range(MAX_PAGE + 50)]
    first = sliced("things", rows, 10 * MAX_PAGE, None, lambda row: row.id)
    assert first.nodes() == [row.id for row in rows[:MAX_PAGE]]
    assert first.page_info.has_next_page
    rest = sliced("things", rows, 10 * MAX_PAGE, first.page_info.end_cursor, lambda row: row.id)
    assert rest.nodes() == [row.id for row in rows[MAX_PAGE:]]
    assert not rest.page_info.has_next_page
