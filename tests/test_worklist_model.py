"""The worklist read model and its ranking: the facts each rule scores, at the edges of each rule;
the amount to be collected; follow-ups and processed customers; strategies as versioned data;
the model against a full rebuild and against the aggregates themselves.

Portfolios are written through the real commands; the model is caught up with the projection
runner and read with the asyncpg readers the API uses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    complete_resubmission,
    create_resubmission,
    move_resubmission,
    open_dispute,
    record_contact,
    resolve_dispute,
    start_dispute_processing,
)
from ledger_collect.commands.promise_commands import (
    record_promise,
    value_promises,
    withdraw_promise,
)
from ledger_collect.commands.receivable_commands import (
    add_customer_note,
    assign_customer,
    post_invoice,
    raise_dunning_level,
    register_customer,
)
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.worklist import day_rankings
from ledger_collect.projections.worklist import ranked_pages as ranking
from ledger_collect.projections.worklist.strategy_rules import (
    Strategy,
    StrategyError,
    StrategySet,
    parse_rules,
)
from ledger_collect.projections.worklist.strategy_versions import (
    activate,
    active_strategies,
    active_strategy_set,
    publish,
    strategy_version,
)
from ledger_collect.storage.database import Database

TODAY = date(2026, 11, 23)
ERP = {"actor": "erp", "business_date": TODAY - timedelta(days=400)}


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


class Book:
    """Writes a portfolio through the commands, with due dates counted back from TODAY."""

    def __init__(self, app: Collections) -> None:
        self.app = app
        self.documents = 0

    def customer(self, number: str, *, segment: str = "north", risk: str = "B",
                 currency: str = "EUR", specialist: str | None = "alice") -> UUID:
        customer_id = self.app.run(
            register_customer, number=number, name=f"Customer {number}", segment=segment,
            credit_limit=Decimal("50000.00"), currency=currency, risk_class=risk,
            source_id=f"md-{number}", **ERP).result
        if specialist is not None:
            self.app.run(assign_customer, customer_id, specialist, actor="sue",
                         business_date=ago(300))
        return customer_id

    def invoice(self, number: str, amount: str, *, due_ago: int,
                currency: str = "EUR") -> UUID:
        self.documents += 1
        document = f"{number}-{self.documents}"
        posted = ago(max(due_ago, 0) + 30)
        return self.app.run(
            post_invoice, customer_number=number, document_number=document,
            amount=Decimal(amount), currency=currency, posting_date=posted,
            due_date=ago(due_ago), source_id=f"inv-{document}", actor="erp",
            business_date=posted).result


@dataclass(frozen=True)
class Read:
    """A page of a list, and how many customers the whole list holds."""

    entries: list[ranking.Entry]
    has_next: bool
    strategies: list[Strategy]
    total: int


def read(database: Database, *, as_of: date = TODAY, specialist: str | None = "alice",
         processed: str = "exclude", strategies: StrategySet | None = None, limit: int = 50,
         after: str | None = None) -> Read:
    """A page and the list's size, read as the API reads them. A day without a stored ranking
    is ranked in the query: the same read from a ranking stored for the day (then dropped
    again) must give the same page, so every test here checks both ways of reading."""
    async def go() -> tuple[Read, StrategySet]:
        pool = await asyncpg.create_pool(database.url, min_size=1, max_size=1,
                                         server_settings={"search_path": database.schema})
        try:
            chosen = strategies or await active_strategies(pool)
            page = await ranking.worklist(pool, chosen, specialist=specialist, as_of=as_of,
                                          processed=processed, limit=limit, after=after)
            total = await ranking.count(pool, chosen, specialist=specialist, as_of=as_of,
                                        processed=processed)
            return Read(page.entries, page.has_next, page.strategies, total), chosen
        finally:
            await pool.close()
    found, chosen = asyncio.run(go())
    if not ranked(database, as_of, chosen):
        rank(database, as_of, chosen)
        try:
            assert asyncio.run(go())[0] == found
        finally:
            with database.connect() as conn:
                conn.execute("WITH gone AS (DELETE FROM worklist_snapshots WHERE day = %s AND"
                             " strategies = %s RETURNING id) DELETE FROM worklist_scores"
                             " WHERE snapshot IN (SELECT id FROM gone)", (as_of, chosen.key))
    return found


def rank(database: Database, day: date = TODAY, strategies: StrategySet | None = None) -> None:
    """Store the day's ranking, as the projector's upkeep or a job does."""
    with database.connect() as conn, conn.transaction():
        day_rankings.build_ranking(conn, strategies or active_strategy_set(conn), day)


def ranked(database: Database, day: date, strategies: StrategySet) -> bool:
    with database.connect() as conn:
        return conn.execute("SELECT 1 FROM worklist_snapshots WHERE day = %s AND strategies = %s",
                            (day, strategies.key)).fetchone() is not None


def listed(app: Collections, database: Database, **kwargs: Any) -> dict[str, ranking.Entry]:
    catch_up(app, "worklist")
    return {entry.number: entry for entry in read(database, **kwargs).entries}


def lines(entry: ranking.Entry) -> dict[str, int]:
    return {line.rule: line.points for line in entry.explanation()}


def details(entry: ranking.Entry) -> dict[str, str]:
    return {line.rule: line.detail for line in entry.explanation()}


# -- each rule at its edge (the default strategy of migration 0004) -------------------------
def test_overdue_amount_threshold_exactly_met_and_one_cent_below(app: Collections,
                                                                 database: Database) -> None:
    book = Book(app)
    for number, amount in (("MET", "10000.00"), ("BELOW", "9999.99")):
        book.customer(number)
        book.invoice(number, amount, due_ago=5)
    found = listed(app, database)
    met, below = found["MET"], found["BELOW"]
    assert lines(met)["large overdue amount"] == 30 and lines(met)["overdue amount"] == 10
    assert details(met)["large overdue amount"] == "10,000.00 EUR overdue, at least 10,000.00"
    assert lines(below)["large overdue amount"] == 0 and lines(below)["overdue amount"] == 10
    assert details(below)["large overdue amount"] == "9,999.99 EUR overdue, less than 10,000.00"
    assert (met.score, below.score) == (40, 10)
    assert [met.rank, below.rank] == [1, 2]


def test_days_overdue_more_than_n_and_an_item_due_today_is_not_overdue(
        app: Collections, database: Database) -> None:
    book = Book(app)
    for number, due_ago in (("D30", 30), ("D31", 31), ("D1", 1), ("D0", 0), ("D91", 91)):
        book.customer(number)
        book.invoice(number, "500.00", due_ago=due_ago)
    found = listed(app, database)
    assert "D0" not in found  # due today: nothing overdue yet
    assert lines(found["D30"])["overdue over a month"] == 0
    assert details(found["D30"])["overdue over a month"] == (
        "oldest item 30 days overdue, not more than 30")
    assert lines(found["D31"])["overdue over a month"] == 10
    assert lines(found["D91"])["long overdue"] == 25
    assert (found["D1"].facts.days_overdue, found["D1"].amounts.overdue) == (1, Decimal("500.00"))
    assert [e.number for e in sorted(found.values(), key=lambda e: e.rank)] == [
        "D91", "D31", "D30", "D1"]
    tomorrow = listed(app, database, as_of=TODAY + timedelta(days=1))
    assert tomorrow["D0"].facts.days_overdue == 1  # computed on the day asked, not stored
    assert lines(tomorrow["D30"])["overdue over a month"] == 10


def test_overdue_amount_counts_only_items_due_before_the_day(app: Collections,
                                                             database: Database) -> None:
    book = Book(app)
    book.customer("C")
    book.invoice("C", "600.00", due_ago=10)
    book.invoice("C", "500.00", due_ago=0)
    book.invoice("C", "9000.00", due_ago=-1)
    book.invoice("C", "7.00", due_ago=3, currency="USD")  # another currency: not added
    today = listed(app, database)["C"]
    assert (today.amounts.overdue, today.open_amount) == (Decimal("600.00"), Decimal("10100.00"))
    tomorrow = listed(app, database, as_of=TODAY + timedelta(days=1))["C"]
    assert tomorrow.amounts.overdue == Decimal("1100.00")
    later = listed(app, database, as_of=TODAY + timedelta(days=2))["C"]
    assert later.amounts.overdue == Decimal("10100.00") and lines(later)["large overdue amount"]


def test_dunning_level_risk_class_and_open_disputes(app: Collections,
                                                    database: Database) -> None:
    book = Book(app)
    once = book.customer("ONCE", risk="C")
    twice = book.customer("TWICE", risk="D")
    first = book.invoice("ONCE", "100.00", due_ago=60)
    second = book.invoice("TWICE", "100.00", due_ago=60)
    app.run(raise_dunning_level, first, actor="dunning", business_date=ago(50))
    for days in (50, 40):
        app.run(raise_dunning_level, second, actor="dunning", business_date=ago(days))
    app.run(open_dispute, once, [first], amount=Decimal("40.00"), reason="price", processor="pat",
            actor="alice", business_date=ago(2))
    found = listed(app, database)
    assert lines(found["ONCE"])["dunned twice or more"] == 0
    assert details(found["ONCE"])["dunned twice or more"] == (
        "highest dunning level 1, less than 2")
    assert lines(found["TWICE"])["dunned twice or more"] == 15
    assert lines(found["ONCE"])["high risk"] == 0 and lines(found["TWICE"])["high risk"] == 20
    assert details(found["ONCE"])["high risk"] == "risk class C, not one of D, E"
    assert lines(found["ONCE"])["open dispute"] == 5
    assert (found["ONCE"].facts.open_disputes, found["ONCE"].facts.disputed_amount) == (
        1, Decimal("40.00"))
    assert lines(found["TWICE"])["open dispute"] == 0
    dispute = app.run(open_dispute, twice, [second], amount=Decimal("100.00"), reason="quality",
                      processor="pat", actor="alice", business_date=ago(1)).result
    app.run(start_dispute_processing, dispute, actor="pat", business_date=ago(1))
    app.run(resolve_dispute, dispute, "rejected", actor="pat", business_date=ago(1))
    app.run(register_customer, number="ONCE", name="Customer ONCE", segment="north",
            credit_limit=Decimal("50000.00"), currency="EUR", risk_class="E",
            source_id="md-ONCE-2", **ERP)
    found = listed(app, database)
    assert found["TWICE"].facts.open_disputes == 0  # resolved: no longer open
    assert lines(found["ONCE"])["high risk"] == 20  # master data changed


def test_broken_promise_counts_for_recent_days_only(app: Collections,
                                                    database: Database) -> None:
    book = Book(app)
    book.customer("P")
    invoice = book.invoice("P", "300.00", due_ago=40)
    promise = app.run(record_promise, invoice_id=invoice, amount=Decimal("300.00"),
                      promised_date=ago(15), actor="alice", business_date=ago(20)).result
    assert listed(app, database)["P"].amounts.under_promise == Decimal("300.00")
    # 3 days' grace: the window ends ago(12); valued the day after, it is broken on ago(11)
    assert app.run(value_promises, [promise], actor="system", business_date=ago(11)).result == {
        promise: "broken"}
    now = listed(app, database)["P"]
    assert lines(now)["broken promise"] == 30 and now.amounts.under_promise == 0
    assert details(now)["broken promise"] == "1 promise(s) broken in the last 90 days, at least 1"
    last_day = listed(app, database, as_of=ago(11) + timedelta(days=89))["P"]
    assert lines(last_day)["broken promise"] == 30
    gone = listed(app, database, as_of=ago(11) + timedelta(days=90))["P"]
    assert lines(gone)["broken promise"] == 0


# -- amount to be collected ----------------------------------------------------------------
def test_amount_to_collect_leaves_out_promised_disputed_dunned_and_later_items(
        app: Collections, database: Database) -> None:
    book = Book(app)
    customer = book.customer("A")
    plain = book.invoice("A", "100.00", due_ago=40)
    promised = book.invoice("A", "200.00", due_ago=40)
    disputed = book.invoice("A", "400.00", due_ago=40)
    dunned_13 = book.invoice("A", "800.00", due_ago=40)
    dunned_14 = book.invoice("A", "1600.00", due_ago=40)
    later = book.invoice("A", "3200.00", due_ago=40)
    book.invoice("A", "6400.00", due_ago=-10)
    promise = app.run(record_promise, invoice_id=promised, amount=Decimal("200.00"),
                      promised_date=TODAY + timedelta(days=5), actor="alice",
                      business_date=ago(1)).result
    app.run(open_dispute, customer, [disputed], amount=Decimal("400.00"), reason="quantity",
            processor="pat", actor="alice", business_date=ago(1))
    app.run(raise_dunning_level, dunned_13, actor="dunning", business_date=ago(13))
    app.run(raise_dunning_level, dunned_14, actor="dunning", business_date=ago(14))
    app.run(create_resubmission, customer, follow_up_date=TODAY + timedelta(days=3),
            reason="waits for the ERP correction", invoice_ids=[later],
            actor="alice", business_date=ago(1))
    entry = listed(app, database)["A"]
    amounts = entry.amounts
    assert amounts == ranking.Amounts(
        overdue=Decimal("6300.00"), to_collect=Decimal("1700.00"),
        under_dispute=Decimal("400.00"), under_promise=Decimal("200.00"),
        under_dunning_notice=Decimal("800.00"), followed_up_later=Decimal("3200.00"))
    assert entry.open_amount == Decimal("12700.00") and plain
    # tomorrow the notice of 13 days ago is 14 days old: no longer current
    assert listed(app, database, as_of=TODAY + timedelta(days=1))["A"].amounts.to_collect == (
        Decimal("2500.00"))
    # on the follow-up's date its invoice is to be collected again
    assert entry.next_follow_up == TODAY + timedelta(days=3)
    on_date = listed(app, database, as_of=TODAY + timedelta(days=3))["A"]
    assert (on_date.amounts.followed_up_later, on_date.amounts.to_collect) == (
        0, Decimal("5700.00"))
    assert on_date.next_follow_up is None
    app.run(withdraw_promise, promise, reason="customer retracted", actor="alice",
            business_date=TODAY)
    assert listed(app, database, processed="include")["A"].amounts.to_collect == (
        Decimal("1900.00"))


# -- follow-ups and processed customers --------------------------------------------------
def test_a_customer_with_a_follow_up_stays_off_the_list_until_that_date(
        app: Collections, database: Database) -> None:
    book = Book(app)
    tomorrow = book.customer("TOMORROW")
    today = book.customer("TODAY")
    for number in ("TOMORROW", "TODAY"):
        book.invoice(number, "100.00", due_ago=20)
    app.run(create_resubmission, tomorrow, follow_up_date=TODAY + timedelta(days=1),
            reason="on holiday", actor="alice", business_date=ago(3))
    follow_up = app.run(create_resubmission, today, follow_up_date=TODAY, reason="call back",
                        actor="alice", business_date=ago(3)).result
    assert set(listed(app, database)) == {"TODAY"}
    assert set(listed(app, database, as_of=TODAY + timedelta(days=1))) == {"TOMORROW", "TODAY"}
    app.run(move_resubmission, follow_up, TODAY + timedelta(days=7), reason="asked for a week",
            actor="alice", business_date=ago(2))
    assert set(listed(app, database)) == set()
    assert set(listed(app, database, as_of=TODAY + timedelta(days=7))) == {"TOMORROW", "TODAY"}
    app.run(complete_resubmission, follow_up, actor="alice", business_date=ago(1))
    assert set(listed(app, database)) == {"TODAY"}


def test_processed_today_is_marked_and_listable(app: Collections, database: Database) -> None:
    book = Book(app)
    called = book.customer("CALLED")
    noted = book.customer("NOTED")
    book.customer("UNTOUCHED")
    for number in ("CALLED", "NOTED", "UNTOUCHED"):
        book.invoice(number, "100.00", due_ago=20)
    app.run(record_contact, called, channel="phone", result="no_answer", actor="alice",
            business_date=TODAY)
    app.run(add_customer_note, called, "n1", "call back friday", actor="anna", business_date=TODAY)
    app.run(add_customer_note, noted, "n2", "asked for a copy", actor="alice", business_date=ago(1))
    assert set(listed(app, database)) == {"NOTED", "UNTOUCHED"}
    everyone = listed(app, database, processed="include")
    assert everyone["CALLED"].processed_by == ("alice", "anna")
    assert everyone["NOTED"].processed_by == () and not everyone["UNTOUCHED"].processed
    assert set(listed(app, database, processed="only")) == {"CALLED"}
    yesterday = listed(app, database, as_of=ago(1), processed="only")
    assert set(yesterday) == {"NOTED"} and yesterday["NOTED"].processed_by == ("alice",)
    assert set(listed(app, database, as_of=TODAY + timedelta(days=1))) == {
        "CALLED", "NOTED", "UNTOUCHED"}


def test_lists_per_specialist_unassigned_and_pages(app: Collections,
                                                   database: Database) -> None:
    book = Book(app)
    for n in range(7):
        book.customer(f"A{n}")
        book.invoice(f"A{n}", "100.00", due_ago=10)  # seven equal scores: number decides
    book.customer("BOB", specialist="bob")
    book.invoice("BOB", "100.00", due_ago=10)
    nobody = book.customer("NOBODY", specialist=None)
    book.invoice("NOBODY", "100.00", due_ago=10)
    catch_up(app, "worklist")
    seen: list[str] = []
    after = None
    for expected, more in ((3, True), (3, True), (1, False)):
        page = read(database, limit=3, after=after)
        assert (len(page.entries), page.has_next, page.total) == (expected, more, 7)
        seen += [e.number for e in page.entries]
        after = page.entries[-1].cursor
    assert seen == [f"A{n}" for n in range(7)]
    assert [e.rank for e in read(database, limit=3, after=read(database, limit=3)
                                 .entries[-1].cursor).entries] == [4, 5, 6]
    assert [e.number for e in read(database, specialist="bob").entries] == ["BOB"]
    assert [e.number for e in read(database, specialist=None).entries] == ["NOBODY"]
    app.run(assign_customer, nobody, "bob", actor="sue", business_date=TODAY)
    catch_up(app, "worklist")
    assert read(database, specialist=None).entries == []
    assert read(database, specialist=None).total == 0
    with pytest.raises(ranking.CursorError):
        read(database, after="not-a-cursor")


# -- strategies as versioned data ------------------------------------------------------------
RISK_FIRST = {"dunning_notice_days": 7, "rules": [
    {"name": "risky", "kind": "risk_class", "in": ["E"], "points": 50},
    {"name": "big", "kind": "overdue_amount", "at_least": "5000.00", "points": 10}]}


def test_a_new_strategy_version_changes_ranks_and_the_old_one_stays_readable(
        app: Collections, database: Database) -> None:
    book = Book(app)
    book.customer("BIG", risk="A")
    book.invoice("BIG", "20000.00", due_ago=100)
    book.customer("RISKY", risk="E")
    book.invoice("RISKY", "50.00", due_ago=2)
    before = read_after_catch_up(app, database)
    assert [e.number for e in before.entries] == ["BIG", "RISKY"]
    assert [(s.code, s.version) for s in before.strategies] == [("default", 1)]
    with database.connect() as conn:
        second = publish(conn, code="default", definition=RISK_FIRST, actor="root",
                         description="risk first")
    assert (second.version, second.active, second.dunning_notice_days) == (2, True, 7)
    after = read(database)
    assert [(e.number, e.score) for e in after.entries] == [("RISKY", 50), ("BIG", 10)]
    assert {(e.strategy.code, e.strategy.version) for e in after.entries} == {("default", 2)}

    async def old() -> Any:
        pool = await asyncpg.create_pool(database.url, min_size=1, max_size=1,
                                         server_settings={"search_path": database.schema})
        try:
            return await strategy_version(pool, "default", 1)
        finally:
            await pool.close()
    first = asyncio.run(old())
    assert not first.active and len(first.rules) == 8
    replay = read(database, strategies=StrategySet(first))
    assert [(e.number, e.score) for e in replay.entries] == [("BIG", 75), ("RISKY", 20)]


def read_after_catch_up(app: Collections, database: Database, **kwargs: Any) -> Read:
    catch_up(app, "worklist")
    return read(database, **kwargs)


def test_a_segment_ranks_with_its_own_strategy_the_others_with_the_default(
        app: Collections, database: Database) -> None:
    book = Book(app)
    book.customer("N", segment="north", risk="E")
    book.customer("S", segment="south", risk="E")
    for number in ("N", "S"):
        book.invoice(number, "100.00", due_ago=5)
    with database.connect() as conn:
        south = publish(conn, code="south", segment="south", definition=RISK_FIRST,
                        actor="sue")
        with pytest.raises(StrategyError, match="strategy south ranks segment south"):
            publish(conn, code="south", segment="north", definition=RISK_FIRST, actor="sue")
    found = {e.number: e for e in read_after_catch_up(app, database).entries}
    assert (found["S"].strategy.code, found["S"].score) == ("south", 50)
    assert (found["N"].strategy.code, found["N"].score) == ("default", 20)
    assert south.segment == "south" and south.version == 1


@pytest.mark.parametrize(("definition", "message"), [
    ({"rules": []}, "non-empty list of rules"),
    ({"rules": [{"name": "x", "kind": "shoe_size", "points": 1, "at_least": 1}]},
     "kind 'shoe_size' is not one of"),
    ({"rules": [{"name": "x", "kind": "days_overdue", "points": 1}]},
     "exactly one of at_least or more_than"),
    ({"rules": [{"name": "x", "kind": "days_overdue", "points": 1, "at_least": 1,
                 "more_than": 2}]}, "exactly one of at_least or more_than"),
    ({"rules": [{"name": "x", "kind": "overdue_amount", "points": 1, "at_least": 10.5}]},
     "decimal strings"),
    ({"rules": [{"name": "x", "kind": "overdue_amount", "points": 0, "at_least": "1"}]},
     "points must be a whole number"),
    ({"rules": [{"name": "x", "kind": "days_overdue", "points": 1, "atleast": 3}]},
     "unknown key"),
    ({"rules": [{"name": "x", "kind": "risk_class", "points": 1, "in": ["Z"]}]},
     "risk classes among A, B, C, D, E"),
    ({"rules": [{"name": "x", "kind": "dunning_level", "points": 1, "at_least": 1},
                {"name": "x", "kind": "dunning_level", "points": 2, "at_least": 2}]},
     "named twice: x"),
    ({"dunning_notice_days": -1, "rules": [
        {"name": "x", "kind": "dunning_level", "points": 1, "at_least": 1}]},
     "dunning_notice_days must be"),
])
def test_a_strategy_definition_is_checked_before_it_is_stored(definition: dict[str, Any],
                                                              message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        parse_rules(definition)


def test_a_stored_strategy_is_parsed_once_and_its_activation_read_each_time(
        database: Database) -> None:
    with database.connect() as conn:
        publish(conn, code="default", definition=RISK_FIRST, actor="root")

    async def go() -> tuple[Any, ...]:
        pool = await asyncpg.create_pool(database.url, min_size=1, max_size=1,
                                         server_settings={"search_path": database.schema})
        try:
            first, again = await active_strategies(pool), await active_strategies(pool)
            with database.connect() as conn:
                activate(conn, "default", 1)  # rolled back: version 2 no longer active
            return first, again, await active_strategies(pool), await strategy_version(
                pool, "default", 2)
        finally:
            await pool.close()

    first, again, rolled_back, second = asyncio.run(go())
    assert first.default is again.default  # the same row: the same Strategy, parsed once
    assert (first.default.version, first.default.active) == (2, True)
    assert (rolled_back.default.version, rolled_back.default.active) == (1, True)
    assert len(rolled_back.default.rules) == 8
    assert (second.version, second.active, second.dunning_notice_days) == (2, False, 7)
