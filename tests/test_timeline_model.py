"""The timeline read model: every kind of event as its row (concrete amounts and wording, the
personal part apart), newest first, the 365-day default window, type filter, cursor pages,
many customers in one query, and a model followed live and killed that ends identical to a
full rebuild."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import psycopg
import pytest
from psycopg import sql
from test_projections import drop_schema, head, wait_until, write_portfolio

from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    add_dispute_note,
    close_activity,
    close_dispute,
    complete_resubmission,
    create_activity,
    create_email,
    create_resubmission,
    mark_email_failed,
    mark_email_sent,
    move_resubmission,
    open_dispute,
    record_contact,
    record_dispute_progress,
    reschedule_activity,
    resolve_dispute,
    start_dispute_processing,
)
from ledger_collect.commands.promise_commands import record_promise, value_promise, withdraw_promise
from ledger_collect.commands.receivable_commands import (
    add_contact,
    add_customer_note,
    apply_credit_memo,
    apply_payment,
    clear_invoice,
    post_invoice,
    raise_dunning_level,
    register_customer,
    reverse_payment,
    write_off_invoice,
)
from ledger_collect.config import Settings
from ledger_collect.projections.engine import build, catch_up
from ledger_collect.projections.live import follow
from ledger_collect.projections.timeline import (
    MAX_PAGE,
    InvalidCursorError,
    Timeline,
    TimelinePage,
    timeline_by_customer,
)
from ledger_collect.storage.database import Database

TODAY = date(2026, 11, 23)
EUR = Decimal


def on(days_ago: int, actor: str = "alice") -> dict[str, Any]:
    return {"actor": actor, "business_date": TODAY - timedelta(days=days_ago)}


def read(database: Database, customer_ids: list[UUID], **kwargs: Any) -> dict[UUID, TimelinePage]:
    async def go() -> dict[UUID, TimelinePage]:
        pool = await asyncpg.create_pool(database.url, min_size=1, max_size=2,
                                         server_settings={"search_path": database.schema})
        try:
            return await timeline_by_customer(pool, customer_ids, today=TODAY, **kwargs)
        finally:
            await pool.close()
    return asyncio.run(go())


def rows(database: Database, schema: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    with database.connect() as conn:
        return {table: conn.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(
            sql.Identifier(schema or database.schema, table))).fetchall()
            for table in Timeline.tables}


def timeline_position(database: Database) -> int:
    with database.connect() as conn:
        row = conn.execute("SELECT position FROM projection_positions WHERE name = 'timeline'"
                           ).fetchone()
        return int(row[0]) if row else 0


def register(app: Collections, number: str, segment: str = "north", days_ago: int = 40) -> UUID:
    return app.run(register_customer, number=number, name=f"Customer {number}", segment=segment,
                   credit_limit=EUR("5000.00"), currency="EUR", risk_class="B",
                   source_id=f"md-{number}", **on(days_ago, "erp")).result


def post(app: Collections, number: str, document: str, amount: str, due_in: int,
         days_ago: int = 40) -> UUID:
    return app.run(post_invoice, customer_number=number, document_number=document,
                   amount=EUR(amount), currency="EUR",
                   posting_date=TODAY - timedelta(days=days_ago),
                   due_date=TODAY + timedelta(days=due_in), source_id=f"src-{document}",
                   **on(days_ago, "erp")).result


def pay(app: Collections, number: str, source: str, document: str, amount: str,
        days_ago: int) -> None:
    app.run(apply_payment, source_id=source, customer_number=number,
            allocations=[(document, EUR(amount))], unapplied=None, currency="EUR",
            payment_date=TODAY - timedelta(days=days_ago), **on(days_ago, "erp"))


# -- every event as its row --------------------------------------------------------------------
def scenario(app: Collections) -> tuple[UUID, list[tuple[Any, ...]]]:
    """One customer's history through every command; returns the customer and, in the order
    written, the rows expected: (days ago, type, event, actor, description, amount, personal)."""
    c = register(app, "C-1")
    i1 = post(app, "C-1", "INV-1", "1000.00", due_in=-10)
    i2 = post(app, "C-1", "INV-2", "500.00", due_in=-5)
    i3 = post(app, "C-1", "INV-3", "200.00", due_in=20)
    i5 = post(app, "C-1", "INV-5", "60.00", due_in=-30)
    app.run(add_contact, c, "p1", name="Marie Curie", email="marie@c1.example", phone=None,
            role=None, **on(39, "erp"))
    late = app.run(record_promise, invoice_id=i5, amount=EUR("60.00"),
                   promised_date=TODAY - timedelta(days=20), **on(25)).result
    pay(app, "C-1", "pay-1", "INV-1", "300.00", 8)
    app.run(apply_credit_memo, source_id="cm-1", customer_number="C-1", invoice_number="INV-1",
            amount=EUR("50.00"), currency="EUR", document_date=TODAY, **on(7, "erp"))
    app.run(reverse_payment, source_id="rev-1", invoice_number="INV-1", payment_source_id="pay-1",
            **on(6, "erp"))
    app.run(raise_dunning_level, i1, **on(5, "dunning"))
    app.run(record_contact, c, channel="phone", result="promised", contact_person_id="p1",
            summary="will pay 400 next week", notes="asked for a copy",
            contact_date=TODAY - timedelta(days=5), **on(4))
    first = app.run(record_promise, invoice_id=i1, amount=EUR("400.00"),
                    promised_date=TODAY + timedelta(days=5), **on(4)).result
    app.run(withdraw_promise, first, reason="customer retracted", **on(3))
    app.run(record_promise, invoice_id=i1, amount=EUR("100.00"),
            promised_date=TODAY - timedelta(days=1), **on(3))
    dispute = app.run(open_dispute, c, [i2], amount=EUR("200.00"), reason="price", processor="pat",
                      note="unit price is wrong", **on(3)).result
    pay(app, "C-1", "pay-2", "INV-1", "100.00", 2)
    app.run(start_dispute_processing, dispute, **on(2, "pat"))
    app.run(record_dispute_progress, dispute, credited=EUR("50.00"), **on(2, "pat"))
    app.run(add_dispute_note, dispute, "credit note requested", **on(2, "pat"))
    app.run(add_customer_note, c, "n1", "prefers calls after 2 pm", **on(2))
    app.run(resolve_dispute, dispute, "accepted", credited=EUR("100.00"), **on(1, "pat"))
    follow_up = app.run(create_resubmission, c, follow_up_date=TODAY + timedelta(days=7),
                        reason="waits for the payment run", **on(1)).result
    app.run(move_resubmission, follow_up, TODAY + timedelta(days=10), reason="holidays", **on(1))
    email = app.run(create_email, c, to=["marie@c1.example"], cc=["boss@c1.example"],
                    template="reminder", attachments=["open-items.pdf", "statement.pdf"],
                    zipped=True, **on(1)).result
    app.run(mark_email_sent, email, **on(1, "mailer"))
    task = app.run(create_activity, c, specialist="alice", due_date=TODAY + timedelta(days=2),
                   description="call Marie back", **on(1)).result
    app.run(reschedule_activity, task, TODAY + timedelta(days=3), **on(1))
    app.run(apply_payment, source_id="pay-9", customer_number="C-1", allocations=[],
            unapplied=EUR("12.34"), currency="EUR", payment_date=TODAY, **on(0, "erp"))
    app.run(apply_credit_memo, source_id="cm-9", customer_number="C-1", invoice_number=None,
            amount=EUR("5.00"), currency="EUR", document_date=TODAY, **on(0, "erp"))
    app.run(record_promise, invoice_id=i3, amount=EUR("50.00"),
            promised_date=TODAY + timedelta(days=10), **on(1))
    app.run(clear_invoice, source_id="clr-3", invoice_number="INV-3", **on(0, "erp"))
    app.run(write_off_invoice, source_id="wo-5", invoice_number="INV-5", reason="insolvent",
            **on(0, "erp"))
    app.run(close_dispute, dispute, **on(0, "pat"))
    app.run(complete_resubmission, follow_up, **on(0))
    app.run(close_activity, task, note="reached her, all fine", **on(0))
    app.run(value_promise, late, as_of=TODAY, **on(0, "system"))  # already valued: no event
    expected = [
        (40, "invoice", "posted", "erp", "Invoice INV-1 posted: 1000.00 EUR, due 2026-11-13",
         "1000.00", None),
        (40, "invoice", "posted", "erp", "Invoice INV-2 posted: 500.00 EUR, due 2026-11-18",
         "500.00", None),
        (40, "invoice", "posted", "erp", "Invoice INV-3 posted: 200.00 EUR, due 2026-12-13",
         "200.00", None),
        (40, "invoice", "posted", "erp", "Invoice INV-5 posted: 60.00 EUR, due 2026-10-24",
         "60.00", None),
        (25, "promise", "issued", "alice",
         "Promise to pay 60.00 EUR by 2026-11-03 on invoice INV-5 (level 1)", "60.00", None),
        (8, "payment", "applied", "erp", "Payment pay-1 of 300.00 EUR applied to invoice INV-1",
         "300.00", None),
        (7, "credit_memo", "applied", "erp",
         "Credit memo cm-1 of 50.00 EUR applied to invoice INV-1", "50.00", None),
        (6, "reversal", "reversed", "erp",
         "Payment pay-1 of 300.00 EUR reversed on invoice INV-1 (rev-1)", "300.00", None),
        (5, "reminder", "dunning_level_raised", "dunning",
         "Reminder letter for invoice INV-1: dunning level 1", None, None),
        (5, "contact", "promised", "alice",
         "Phone conversation by alice: promised", None,
         "contact p1\nwill pay 400 next week\nasked for a copy"),
        (4, "promise", "issued", "alice",
         "Promise to pay 400.00 EUR by 2026-11-28 on invoice INV-1 (level 1)", "400.00", None),
        (3, "promise", "withdrawn", "alice",
         "Promise of 400.00 EUR on invoice INV-1 withdrawn", None, "customer retracted"),
        (3, "promise", "issued", "alice",
         "Promise to pay 100.00 EUR by 2026-11-22 on invoice INV-1 (level 2)", "100.00", None),
        (3, "dispute", "opened", "alice",
         "Dispute opened over invoice(s) INV-2: 200.00 EUR, reason price, processor pat",
         "200.00", "unit price is wrong"),
        (2, "payment", "applied", "erp", "Payment pay-2 of 100.00 EUR applied to invoice INV-1",
         "100.00", None),
        (2, "promise", "kept", "erp",
         "Promise of 100.00 EUR on invoice INV-1 kept: 100.00 EUR paid in time", "100.00", None),
        (2, "dispute", "processing_started", "pat", "Dispute in process", None, None),
        (2, "dispute", "progressed", "pat", "Dispute progress: credited 50.00 EUR", "50.00",
         None),
        (2, "dispute", "note", "pat", "Note added to the dispute", None,
         "credit note requested"),
        (2, "note", "added", "alice", "Note added", None, "prefers calls after 2 pm"),
        (1, "dispute", "resolved", "pat", "Dispute resolved as accepted: credited 100.00 EUR",
         "100.00", None),
        (1, "resubmission", "created", "alice",
         "Follow-up of the customer set for 2026-11-30", None, "waits for the payment run"),
        (1, "resubmission", "moved", "alice", "Follow-up moved from 2026-11-30 to 2026-12-03",
         None, "holidays"),
        (1, "email", "created", "alice",
         "Email with 2 attachments (zipped) created, pending", None,
         "to: marie@c1.example; cc: boss@c1.example\ntemplate: reminder\n"
         "attachments: open-items.pdf, statement.pdf"),
        (1, "email", "sent", "mailer", "Email sent", None, None),
        (1, "activity", "created", "alice", "Task for alice due 2026-11-25", None,
         "call Marie back"),
        (1, "activity", "rescheduled", "alice", "Task moved from 2026-11-25 to 2026-11-26",
         None, None),
        (0, "payment", "on_account", "erp",
         "Payment pay-9 of 12.34 EUR received on account (not applied to an invoice)", "12.34",
         None),
        (0, "credit_memo", "on_account", "erp", "Credit memo cm-9 of 5.00 EUR on account",
         "5.00", None),
        (1, "promise", "issued", "alice",
         "Promise to pay 50.00 EUR by 2026-12-03 on invoice INV-3 (level 1)", "50.00", None),
        (0, "clearing", "cleared", "erp", "Invoice INV-3 cleared: 200.00 EUR settled",
         "200.00", None),
        (0, "promise", "closed", "erp",
         "Promise of 50.00 EUR on invoice INV-3 closed (invoice cleared)", None, None),
        (0, "write_off", "written_off", "erp", "Invoice INV-5 written off: 60.00 EUR",
         "60.00", "insolvent"),
        (0, "promise", "broken", "erp",  # closing its invoice values a promise run out
         "Promise of 60.00 EUR on invoice INV-5 broken: 0.00 EUR paid in time", "0.00", None),
        (0, "dispute", "closed", "pat", "Dispute closed", None, None),
        (0, "resubmission", "completed", "alice", "Follow-up completed", None, None),
        (0, "activity", "closed", "alice", "Task closed", None, "reached her, all fine"),
    ]
    return c, expected


def test_every_event_lands_as_its_row_newest_first(app: Collections,
                                                   database: Database) -> None:
    customer, expected = scenario(app)
    catch_up(app, "timeline", page_size=5)
    page = read(database, [customer], first=MAX_PAGE)[customer]
    assert page.segment == "north" and not page.has_next
    got = [((TODAY - e.occurred).days, e.type, e.event, e.actor, e.description,
            None if e.amount is None else str(e.amount), e.personal) for e in page.entries]
    # newest business date first; on one date, the later record first
    newest_first = [row for _, row in sorted(enumerate(expected),
                                             key=lambda p: (-p[1][0], p[0]), reverse=True)]
    assert got == newest_first
    assert all(e.currency == ("EUR" if e.amount is not None else None) for e in page.entries)
    recorded = [(e.occurred, e.recorded_at, e.seq) for e in page.entries]
    assert recorded == sorted(recorded, reverse=True)
    seqs = [e.seq for e in page.entries]
    assert sorted(seqs) == list(range(1, len(expected) + 1))  # one row per event, in log order


def test_a_page_writes_in_a_handful_of_statements(app: Collections, database: Database) -> None:
    """The writer folds a page in memory: its statement count does not grow with the page."""
    catch_up(app, "timeline")  # the model's tables exist before the count starts
    scenario(app)  # some fifty events the model reads: one page
    ran: list[str] = []
    execute, copy = psycopg.Cursor.execute, psycopg.Cursor.copy

    def counting_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        ran.append(query.as_string(self) if hasattr(query, "as_string") else str(query))
        return execute(self, query, *args, **kwargs)

    def counting_copy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        ran.append(str(statement))
        return copy(self, statement, *args, **kwargs)

    psycopg.Cursor.execute, psycopg.Cursor.copy = counting_execute, counting_copy  # type: ignore
    try:
        catch_up(app, "timeline", page_size=1000)
    finally:
        psycopg.Cursor.execute, psycopg.Cursor.copy = execute, copy  # type: ignore
    applied = [q.split()[0] + " " + next(w.strip('"(') for w in q.split() if "timeline" in w)
               for q in ran if "timeline" in q and "projection_positions" not in q]
    assert sorted(applied) == sorted([
        "SELECT timeline_invoices", "SELECT timeline_promises", "SELECT timeline_disputes",
        "SELECT timeline", "INSERT timeline_customers", "INSERT timeline_invoices",
        "INSERT timeline_promises", "INSERT timeline_disputes", "COPY timeline"]), ran


# -- the window, the filter, the pages -----------------------------------------------------------
def test_default_window_is_the_last_365_days(app: Collections, database: Database) -> None:
    customer = register(app, "C-7", days_ago=400)
    for days_ago in (366, 365, 364, 0):
        app.run(add_customer_note, customer, f"n{days_ago}", f"note of {days_ago} days ago",
                **on(days_ago))
    catch_up(app, "timeline")
    default = read(database, [customer])[customer]
    assert [(TODAY - e.occurred).days for e in default.entries] == [0, 364, 365]
    wider = read(database, [customer], since=TODAY - timedelta(days=366))[customer]
    assert [(TODAY - e.occurred).days for e in wider.entries] == [0, 364, 365, 366]
    narrower = read(database, [customer], since=TODAY)[customer]
    assert [e.personal for e in narrower.entries] == ["note of 0 days ago"]


def test_filter_by_type_and_page_with_cursors(app: Collections, database: Database) -> None:
    customer, expected = scenario(app)
    catch_up(app, "timeline")
    everything = read(database, [customer], first=MAX_PAGE)[customer].entries
    promises = read(database, [customer], types=["promise"])[customer].entries
    assert [(e.event, e.amount) for e in promises] == [
        ("broken", EUR("0.00")), ("closed", None), ("issued", EUR("50.00")),
        ("kept", EUR("100.00")), ("issued", EUR("100.00")), ("withdrawn", None),
        ("issued", EUR("400.00")), ("issued", EUR("60.00"))]
    money = read(database, [customer], types=["payment", "credit_memo", "reversal"])[customer]
    assert sum(e.amount for e in money.entries if e.type != "reversal") == EUR("467.34")
    assert [e.type for e in money.entries].count("reversal") == 1

    seen, after, pages = [], None, 0
    while True:
        page = read(database, [customer], first=4, after=after)[customer]
        seen.extend(page.entries)
        pages += 1
        assert len(page.entries) == 4 or not page.has_next
        if not page.has_next:
            break
        after = page.end_cursor
    assert seen == everything and pages == -(-len(expected) // 4)
    filtered = read(database, [customer], types=["dispute"], first=2)[customer]
    rest = read(database, [customer], types=["dispute"], first=10,
                after=filtered.end_cursor)[customer]
    assert [e.event for e in filtered.entries + rest.entries] == [
        "closed", "resolved", "note", "progressed", "processing_started", "opened"]

    with pytest.raises(InvalidCursorError, match="not a cursor of a timeline"):
        read(database, [customer], after="bm9wZQ==")
    with pytest.raises(ValueError, match="letters is not a kind of timeline entry"):
        read(database, [customer], types=["letters"])
    with pytest.raises(ValueError, match="at least one entry"):
        read(database, [customer], first=0)


def test_page_size_is_capped(app: Collections, database: Database) -> None:
    customer = register(app, "C-8")
    for n in range(MAX_PAGE + 5):
        app.run(add_customer_note, customer, f"n{n}", f"note {n}", **on(1))
    catch_up(app, "timeline")
    page = read(database, [customer], first=10_000)[customer]
    assert len(page.entries) == MAX_PAGE and page.has_next
    assert page.entries[0].personal == f"note {MAX_PAGE + 4}"


def test_many_customers_in_one_query_and_unknown_ones_marked(app: Collections,
                                                            database: Database) -> None:
    north, south = register(app, "N-1"), register(app, "S-1", segment="south")
    post(app, "N-1", "N-INV", "10.00", due_in=5)
    post(app, "S-1", "S-INV", "20.00", due_in=5)
    app.run(add_customer_note, south, "n", "call the owner", **on(3))
    app.run(register_customer, number="S-1", name="Customer S-1", segment="west",
            credit_limit=EUR("5000.00"), currency="EUR", risk_class="B",
            source_id="md-S-1-v2", **on(2, "erp"))
    catch_up(app, "timeline")
    stranger = UUID(int=7)
    queries: list[str] = []

    class CountingPool:
        def __init__(self, pool: Any) -> None:
            self.pool = pool

        async def fetch(self, query: str, *args: Any) -> Any:
            queries.append(query)
            return await self.pool.fetch(query, *args)

    async def go() -> dict[UUID, TimelinePage]:
        pool = await asyncpg.create_pool(database.url, min_size=1, max_size=2,
                                         server_settings={"search_path": database.schema})
        try:
            return await timeline_by_customer(CountingPool(pool), [north, south, stranger],
                                              today=TODAY)
        finally:
            await pool.close()

    pages = asyncio.run(go())
    assert len(queries) == 1
    assert list(pages) == [north, south, stranger]
    assert pages[north].segment == "north" and pages[south].segment == "west"
    assert [e.description for e in pages[north].entries] == [
        "Invoice N-INV posted: 10.00 EUR, due 2026-11-28"]
    assert [e.type for e in pages[south].entries] == ["note", "invoice"]
    assert pages[stranger] == TimelinePage(stranger, None, [], False)


# -- equivalence with a full rebuild ---------------------------------------------------------------
def casework(app: Collections, customers: int, *, seed: int, prefix: str) -> None:
    """Conversations, notes, follow-ups, emails and tasks for customers of write_portfolio."""
    write_portfolio(app, customers, seed=seed, prefix=prefix)
    from ledger_collect.domain.customer import Customer

    for c in range(customers):
        customer = Customer.create_id(f"{prefix}{seed}-{c:05d}")
        app.run(record_contact, customer, channel="phone", result="reached",
                contact_person_id="main", summary=f"talked {c}", **on(1))
        app.run(add_customer_note, customer, f"n{c}", f"note {c}", **on(1))
        follow_up = app.run(create_resubmission, customer, follow_up_date=TODAY + timedelta(days=3),
                            reason="later", **on(0)).result
        if c % 2:
            app.run(move_resubmission, follow_up, TODAY + timedelta(days=9), reason="later still",
                    **on(0))
        email = app.run(create_email, customer, to=[f"x{c}@example.com"], template="reminder",
                        **on(0)).result
        if c % 3 == 0:
            app.run(mark_email_failed, email, "mailbox full", **on(0, "mailer"))
        task = app.run(create_activity, customer, specialist="alice", due_date=TODAY,
                       description="call", **on(0)).result
        app.run(close_activity, task, **on(0))


def test_followed_live_in_small_pages_it_equals_a_full_rebuild(app: Collections,
                                                               database: Database) -> None:
    casework(app, 8, seed=1, prefix="A")
    catch_up(app, "timeline", page_size=7)
    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(app, stop, "timeline"),
                                kwargs={"page_size": 3})
    follower.start()
    try:
        casework(app, 6, seed=2, prefix="B")
        last = head(database)
        wait_until(lambda: timeline_position(database) >= last, seconds=30)
    finally:
        stop.set()
        follower.join(timeout=10)
    live = rows(database)
    assert len(live["timeline"]) > 250
    other = database.schema + "_tl"
    try:
        build(app, "timeline", other, page_size=1000)
        assert rows(database, other) == live
    finally:
        drop_schema(database, other)


#: A projector process of this model alone (catch-up, or catch-up then live following).
PROJECTOR = """
import signal, sys, threading
from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database
from ledger_collect.projections.live import follow
from ledger_collect.projections.engine import catch_up
database = Database(Settings.from_env()).open()
app = Collections(database)
if sys.argv[1] == "catch-up":
    catch_up(app, "timeline", page_size=int(sys.argv[2]))
else:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    follow(app, stop, "timeline", page_size=int(sys.argv[2]))
app.close()
"""


def projector(settings: Settings, mode: str, page_size: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, LEDGER_DATABASE_URL=settings.database_url or "",
               LEDGER_SCHEMA=settings.schema, LEDGER_MASTER_KEY=settings.master_key or "",
               LEDGER_DATA_DIR=str(settings.data_dir))
    return subprocess.Popen([sys.executable, "-c", PROJECTOR, mode, str(page_size)],
                            env=env)


@pytest.mark.slow
def test_killed_mid_catch_up_and_mid_follow_it_ends_identical_to_a_rebuild(
        app: Collections, database: Database, settings: Settings) -> None:
    casework(app, 60, seed=4, prefix="K")
    total = head(database)
    first = projector(settings, "catch-up", 5)
    wait_until(lambda: timeline_position(database) > total // 3)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 0 < timeline_position(database) < total, "the projector was to be killed midway"
    second = projector(settings, "follow", 20)
    wait_until(lambda: timeline_position(database) == total)
    for n in range(12):
        casework(app, 1, seed=10 + n, prefix="L")
        if n == 6:
            second.send_signal(signal.SIGKILL)
            second.wait()
    third = projector(settings, "follow", 20)
    try:
        wait_until(lambda: timeline_position(database) == head(database))
    finally:
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=20) == 0
    other = database.schema + "_rebuilt"
    try:
        build(app, "timeline", other)
        live, rebuilt = rows(database), rows(database, other)
        assert len(live["timeline"]) > 1200
        for table in Timeline.tables:
            assert live[table] == rebuilt[table], table
    finally:
        drop_schema(database, other)
