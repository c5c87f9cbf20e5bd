"""The worklist model against a full rebuild, against the aggregates it mirrors, and against
itself: every score equal to its explanation, the day's rankings the writer keeps equal to
rankings built afresh, a page of events in a handful of statements. (Rebuild throughput is
measured by benchmarks/api_bench.py, not here.)

Portfolios mix every kind of event the model reads, written through the real commands."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from test_worklist_model import ERP, RISK_FIRST, TODAY, Book, ago, rank, read

from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    complete_resubmission,
    create_resubmission,
    open_dispute,
    record_contact,
    resolve_dispute,
    start_dispute_processing,
)
from ledger_collect.commands.promise_commands import record_promise, value_promises
from ledger_collect.commands.receivable_commands import (
    apply_payment,
    assign_customer,
    clear_invoice,
    raise_dunning_level,
    register_customer,
)
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.resubmission import Resubmission
from ledger_collect.projections.engine import build, catch_up
from ledger_collect.projections.worklist import Worklist
from ledger_collect.projections.worklist.strategy_versions import publish, strategy_set
from ledger_collect.storage.database import Database


# -- the model against a rebuild and against the aggregates ----------------------------------
def write_portfolio(app: Collections, customers: int, seed: int, prefix: str = "R") -> None:
    """Every kind of event the model reads, mixed at random."""
    rnd = random.Random(seed)
    book = Book(app)
    for c in range(customers):
        number = f"{prefix}{c:03d}"
        customer = book.customer(number, risk=rnd.choice("ABCDE"),
                                 segment=rnd.choice(("north", "south")),
                                 specialist=rnd.choice(("alice", "bob", None)))
        invoices = [book.invoice(number, f"{rnd.randint(100, 900000) / 100:.2f}",
                                 due_ago=rnd.randint(-20, 200),
                                 currency=rnd.choice(("EUR",) * 9 + ("USD",)))
                    for _ in range(rnd.randint(1, 6))]
        for invoice_id in invoices:
            invoice: Invoice = app.repository.get(invoice_id)
            roll = rnd.random()
            if roll < 0.2:
                app.run(clear_invoice, source_id=f"clr-{invoice_id}",
                        invoice_number=invoice.document_number, **ERP)
                continue
            if roll < 0.4:
                app.run(apply_payment, source_id=f"pay-{invoice_id}", customer_number=number,
                        allocations=[(invoice.document_number, Decimal("1.00"))],
                        unapplied=None, currency=invoice.currency,
                        payment_date=ago(5), actor="erp", business_date=ago(5))
            if invoice.due_date < ago(10) and rnd.random() < 0.5:
                app.run(raise_dunning_level, invoice_id, actor="dunning",
                        business_date=ago(rnd.randint(1, 9)))
            if rnd.random() < 0.3:
                promise = app.run(record_promise, invoice_id=invoice_id, amount=Decimal("1.00"),
                                  promised_date=ago(15), actor="alice",
                                  business_date=ago(20)).result
                if rnd.random() < 0.5:
                    app.run(value_promises, [promise], actor="system", business_date=ago(10))
        still_open = [i for i in invoices if app.repository.get(i).is_open
                      and app.repository.get(i).currency == "EUR"]
        if still_open and rnd.random() < 0.4:
            dispute = app.run(open_dispute, customer, still_open[:2], amount=Decimal("1.00"),
                              reason="price", processor="pat", actor="bob",
                              business_date=ago(rnd.randint(0, 3))).result
            if rnd.random() < 0.5:
                app.run(start_dispute_processing, dispute, actor="pat", business_date=ago(0))
                app.run(resolve_dispute, dispute, "rejected", actor="pat", business_date=ago(0))
        if rnd.random() < 0.4:
            follow_up = app.run(
                create_resubmission, customer,
                follow_up_date=TODAY + timedelta(days=rnd.randint(-1, 5)),
                reason="later", invoice_ids=still_open[:1] if rnd.random() < 0.5 else [],
                actor="alice", business_date=ago(3)).result
            if rnd.random() < 0.3:
                app.run(complete_resubmission, follow_up, actor="alice", business_date=ago(1))
        if rnd.random() < 0.3:
            app.run(record_contact, customer, channel="phone", result="no_answer",
                    actor=rnd.choice(("alice", "bob")), business_date=TODAY)


def model_rows(database: Database, schema: str | None = None) -> dict[str, list[Any]]:
    with database.connect() as conn:
        return {table: conn.execute(sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(
            sql.Identifier(schema or database.schema, table))).fetchall()
            for table in Worklist.tables if table not in Worklist.caches}


def test_paged_catch_up_equals_a_full_rebuild_and_the_aggregates(app: Collections,
                                                                 database: Database) -> None:
    write_portfolio(app, 40, seed=3)
    catch_up(app, "worklist", page_size=13)
    live = model_rows(database)
    scratch = f"{database.schema}_wl"
    try:
        build(app, "worklist", scratch, page_size=1000)
        assert model_rows(database, scratch) == live
    finally:
        with database.connect() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(scratch)))
    assert len(live["worklist_customers"]) == 40 and live["worklist_processed"]
    with database.connect() as conn:  # the portfolio reached every part of the model
        assert all(n > 0 for n in conn.execute(
            "SELECT count(*) FILTER (WHERE broken_promises <> '{}'),"
            " count(*) FILTER (WHERE follow_ups <> '{}'),"
            " count(*) FILTER (WHERE open_disputes > 0),"
            " count(*) FILTER (WHERE specialist IS NULL) FROM worklist_customers").fetchone())
        assert all(conn.execute(
            "SELECT count(*) FILTER (WHERE promise_id IS NOT NULL) > 0,"
            " count(*) FILTER (WHERE last_dunned_on IS NOT NULL) > 0 FROM worklist_items"
        ).fetchone())
    with database.connect() as conn:
        stored = {row[0]: row for row in conn.execute(
            "SELECT id, currency, open_amount, oldest_due, dunning_level, open_disputes,"
            " follow_ups FROM worklist_customers").fetchall()}
    invoices, disputes_of, follow_ups_of = (by_customer(app, database, kind)
                                            for kind in (Invoice, DisputeCase, Resubmission))
    for customer_id, (_, currency, open_amount, oldest, level, disputes, follow_ups) in (
            stored.items()):
        items = [i for i in invoices.get(customer_id, []) if i.is_open and i.open_amount > 0]
        mine = [i for i in items if i.currency == currency]
        assert open_amount == sum((i.open_amount for i in mine), Decimal("0.00"))
        assert oldest == min((i.due_date for i in mine), default=None)
        assert level == max((i.dunning_level for i in items), default=0)
        assert disputes == sum(d.status in ("open", "in_process")
                               for d in disputes_of.get(customer_id, []))
        assert follow_ups == sorted(r.follow_up_date
                                    for r in follow_ups_of.get(customer_id, [])
                                    if r.status == "open" and not r.invoice_ids)


CREATED = {Invoice: "ledger_collect.Invoice.Posted",
           DisputeCase: "ledger_collect.DisputeCase.Opened",
           Resubmission: "ledger_collect.Resubmission.Created"}


def by_customer(app: Collections, database: Database, kind: type) -> dict[UUID, list[Any]]:
    """Every aggregate of one kind straight from the event store, by customer."""
    with database.connect() as conn:
        ids = [row[0] for row in conn.execute(
            "SELECT originator_id FROM collections_events WHERE topic = %s", (CREATED[kind],))]
    found: dict[UUID, list[Any]] = {}
    for aggregate_id in ids:
        aggregate = app.repository.get(aggregate_id)
        found.setdefault(aggregate.customer_id, []).append(aggregate)
    return found


def test_every_score_equals_its_explanation_and_the_python_reading(
        app: Collections, database: Database) -> None:
    write_portfolio(app, 40, seed=11)
    catch_up(app, "worklist")
    for specialist in ("alice", "bob", None):
        for as_of in (TODAY, TODAY + timedelta(days=2), ago(30)):
            page = read(database, specialist=specialist, as_of=as_of, processed="include",
                        limit=100)
            assert page.total == len(page.entries)
            for entry in page.entries:
                assert sum(line.points for line in entry.explanation()) == entry.score
                assert entry.strategy.score(entry.facts, as_of) == entry.score
                assert entry.amounts.overdue == entry.facts.overdue_amount
                parts = entry.amounts
                assert parts.overdue == (parts.to_collect + parts.under_dispute
                                         + parts.under_promise + parts.under_dunning_notice
                                         + parts.followed_up_later)
            ranks = [(-e.score, -e.amounts.overdue, e.oldest_due, e.number)
                     for e in page.entries]
            assert ranks == sorted(ranks)


def touch(app: Collections, numbers: list[str]) -> None:
    """Casework, money and reassignment on customers already ranked."""
    for n, number in enumerate(numbers):
        customer = Customer.create_id(number)
        kind = n % 5
        if kind == 0:
            app.run(record_contact, customer, channel="email", result="no_answer", actor="bob",
                    business_date=TODAY)
        elif kind == 1:
            app.run(create_resubmission, customer, follow_up_date=TODAY + timedelta(days=1),
                    reason="later", actor="alice", business_date=ago(1))
        elif kind == 2:
            app.run(assign_customer, customer, "bob", actor="sue", business_date=TODAY)
        elif kind == 3:
            Book(app).invoice(number, "20000.00", due_ago=95)
        else:
            app.run(register_customer, number=number, name="Renamed", segment="south",
                    credit_limit=Decimal("1.00"), currency="EUR",
                    risk_class="E", source_id=f"md2-{number}", **ERP)


def rankings(database: Database) -> list[tuple[Any, ...]]:
    with database.connect() as conn:
        return conn.execute(
            "SELECT s.day, s.strategies, r.customer_id, r.specialist, r.processed, r.neg_score,"
            " r.neg_overdue, r.oldest_due, r.number, r.strategy FROM worklist_scores r"
            " JOIN worklist_snapshots s ON s.id = r.snapshot ORDER BY 1, 2, 3").fetchall()


def test_rankings_kept_by_the_writer_equal_rankings_built_afresh(app: Collections,
                                                                 database: Database) -> None:
    write_portfolio(app, 30, seed=5)
    catch_up(app, "worklist")
    days = (TODAY, TODAY + timedelta(days=1), ago(20))
    for day in days:
        rank(database, day)
    with database.connect() as conn:
        south = publish(conn, code="south", segment="south", definition=RISK_FIRST, actor="sue")
    for day in days[:2]:
        rank(database, day)  # with the new strategy: new rankings
    write_portfolio(app, 10, seed=6, prefix="S")
    touch(app, [f"R{c:03d}" for c in range(30)])
    catch_up(app, "worklist", page_size=17)
    kept = rankings(database)
    assert len({(row[0], row[1]) for row in kept}) == 5 and south.version == 1
    with database.connect() as conn:
        conn.execute("DELETE FROM worklist_scores")
        conn.execute("DELETE FROM worklist_snapshots")
        before_south = strategy_set(conn, '[["","default",1]]')
    for day in days:
        rank(database, day, before_south)
    for day in days[:2]:
        rank(database, day)
    assert rankings(database) == kept


def test_a_page_of_events_costs_a_handful_of_statements(app: Collections,
                                                        database: Database) -> None:
    """The writer folds a page in memory: its statement count does not grow with the page."""
    write_portfolio(app, 25, seed=9)
    catch_up(app, "worklist")
    rank(database)  # one ranking to keep up
    touch(app, [f"R{c:03d}" for c in range(25)])
    ran: list[str] = []
    original = psycopg.Connection.execute

    def counting(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        ran.append(str(query))
        return original(self, query, *args, **kwargs)

    psycopg.Connection.execute = counting  # type: ignore[method-assign]
    try:
        catch_up(app, "worklist", page_size=1000)
    finally:
        psycopg.Connection.execute = original  # type: ignore[method-assign]
    mine = [q for q in ran if "worklist_" in q or "collection_strategies" in q]
    assert 8 <= len(mine) <= 16, mine  # loads, upserts, marks, recompute, ranking upkeep
