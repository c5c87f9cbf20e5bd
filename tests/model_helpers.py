"""What the customers and casework read-model tests share: a portfolio written through the real
commands (every event those models read, personal data included), the rows of a model, its
readers run on a real asyncpg pool, and the check that a model followed live equals a rebuild."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from psycopg import sql

from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands import email_commands as em
from ledger_collect.commands import promise_commands as pr
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections
from ledger_collect.projections import select
from ledger_collect.projections.engine import build
from ledger_collect.projections.live import follow
from ledger_collect.storage.database import Database

TODAY = date(2026, 11, 23)
WHO = {"actor": "erp", "business_date": TODAY}
SPECIALISTS = ("alice", "bob", None)


def write_casework(app: Collections, customers: int, *, seed: int = 1, prefix: str = "K",
                   chunk: int = 10) -> int:
    """Customers with contact persons (added, changed, removed), notes, assignments, and on
    their invoices every kind of casework: promises (instalments, paid towards, replaced,
    withdrawn, broken), disputes (notes, progress, resolution, closing), follow-ups (moved,
    completed), activities (rescheduled, closed), emails (failed, corrected, partly sent,
    sent) and conversations linked to what came out of them. Returns the last notification."""
    rnd = random.Random(seed)
    last = 0
    for start in range(0, customers, chunk):
        batch = app.batch()
        for c in range(start, min(customers, start + chunk)):
            _customer(batch, rnd, f"{prefix}{seed}-{c:04d}", c)
        last = app.save_batch(batch) or last
    return last


def _customer(batch: Any, rnd: random.Random, number: str, c: int) -> None:
    by = {"actor": rnd.choice(("alice", "bob", "sue")), "business_date": TODAY}
    cid = rc.register_customer(batch, number=number, name=f"Customer {c}",
                               segment=rnd.choice(("north", "south")),
                               credit_limit=Decimal(10000), currency="EUR",
                               risk_class=rnd.choice("ABCDE"), source_id=f"reg-{number}", **WHO)
    if rnd.random() < 0.5:
        rc.register_customer(batch, number=number, name=f"Customer {c} SA", segment="north",
                             credit_limit=Decimal(12000), currency="EUR", risk_class="C",
                             source_id=f"reg2-{number}", **WHO)
    specialist = rnd.choice(SPECIALISTS)
    if specialist:
        rc.assign_customer(batch, cid, specialist, **by)
    rc.add_contact(batch, cid, "a", name=f"Anne {c}", email=f"anne{c}@example.com", **by)
    rc.add_contact(batch, cid, "b", name=f"Bert {c}", phone="+33 1", role="accounts", **by)
    if rnd.random() < 0.5:
        rc.change_contact(batch, cid, "b", name=f"Berthe {c}", email=None, phone="+33 2",
                          role="treasury", **by)
    if rnd.random() < 0.4:
        rc.remove_contact(batch, cid, "a", **by)  # the default: "b" takes over
    rc.add_customer_note(batch, cid, "n1", f"note {c}", **by)
    invoices = []
    for i in range(3):
        doc = f"{number}-I{i}"
        due = TODAY - timedelta(days=rnd.randint(-20, 90))
        invoices.append(rc.post_invoice(
            batch, customer_number=number, document_number=doc,
            amount=Decimal(rnd.randint(10000, 90000)) / 100, currency="EUR",
            posting_date=due - timedelta(days=30), due_date=due, source_id=f"inv-{doc}", **WHO))
    _promises(batch, rnd, number, invoices, by)
    _cases(batch, rnd, cid, invoices, by)


def _promises(batch: Any, rnd: random.Random, number: str, invoices: list[Any],
              by: dict[str, Any]) -> None:
    split = rnd.random() < 0.3
    first = pr.record_promise(
        batch, invoice_id=invoices[0], amount=Decimal("60.00"),
        promised_date=TODAY + timedelta(days=31 if split else rnd.randint(2, 30)),
        instalments=[(TODAY + timedelta(days=1), Decimal("20.00")),
                     (TODAY + timedelta(days=31), Decimal("40.00"))] if split else None, **by)
    roll = rnd.random()
    if roll < 0.3:
        pr.withdraw_promise(batch, first, reason=f"changed mind {number}", **by)
    elif roll < 0.6:
        rc.apply_payment(batch, source_id=f"pay-{number}", customer_number=number,
                         allocations=[(f"{number}-I0", Decimal("20.00"))], unapplied=None,
                         currency="EUR", payment_date=TODAY, **WHO)
    else:
        pr.record_promise(batch, invoice_id=invoices[0], amount=Decimal("30.00"),
                          promised_date=TODAY + timedelta(days=40), **by)  # replaces it
    broken = pr.record_promise(batch, invoice_id=invoices[1], amount=Decimal("10.00"),
                               promised_date=TODAY, **by)
    later = {"actor": "valuation", "business_date": TODAY + timedelta(days=10)}
    pr.value_promise(batch, broken, **later)


def _cases(batch: Any, rnd: random.Random, cid: Any, invoices: list[Any],
           by: dict[str, Any]) -> None:
    dispute = cw.open_dispute(batch, cid, invoices[1:], amount=Decimal("50.00"),
                              reason=rnd.choice(("price", "quality")), processor="pat",
                              note="wrong price" if rnd.random() < 0.7 else None, **by)
    if rnd.random() < 0.7:
        cw.start_dispute_processing(batch, dispute, **by)
        cw.change_dispute_processor(batch, dispute, rnd.choice(("pat", "quinn")), **by)
        cw.record_dispute_progress(batch, dispute, credited=Decimal("5.00"), **by)
        cw.add_dispute_note(batch, dispute, "called the buyer", **by)
        if rnd.random() < 0.6:
            cw.resolve_dispute(batch, dispute, "accepted", credited=Decimal("10.00"),
                               paid=Decimal("2.50"), **by)
            cw.close_dispute(batch, dispute, **by)
    follow_up = cw.create_resubmission(
        batch, cid, follow_up_date=TODAY + timedelta(days=rnd.randint(1, 60)),
        reason="on holiday", invoice_ids=invoices[2:] if rnd.random() < 0.5 else (), **by)
    if rnd.random() < 0.5:
        cw.move_resubmission(batch, follow_up, TODAY + timedelta(days=70), reason="still away",
                             **by)
    if rnd.random() < 0.3:
        cw.complete_resubmission(batch, follow_up, **by)
    task = cw.create_activity(batch, cid, specialist=rnd.choice(("alice", "bob")),
                              due_date=TODAY + timedelta(days=rnd.randint(0, 20)),
                              description="send the statement", **by)
    if rnd.random() < 0.5:
        cw.reschedule_activity(batch, task, TODAY + timedelta(days=25), **by)
    if rnd.random() < 0.3:
        cw.close_activity(batch, task, note="sent", **by)
    talk = cw.record_contact(batch, cid, channel="phone", result="reached",
                             contact_person_id="b", summary="will pay", notes="friendly", **by)
    cw.link_to_contact(batch, talk, dispute_ids=[dispute], resubmission_ids=[follow_up], **by)
    email = cw.create_email(batch, cid, to=["ap@example.com"], cc=["boss@example.com"],
                            template="reminder", attachments=["open-items.pdf"], contact_id=talk,
                            **by)
    roll = rnd.random()
    if roll < 0.3:
        cw.mark_email_failed(batch, email, "550 ap@example.com unknown", **by)
        cw.correct_and_resend_email(batch, email, to=["ap2@example.com"], **by)
    elif roll < 0.6:
        cw.mark_email_partly_sent(batch, email, {"boss@example.com": "mailbox full"}, **by)
    else:
        cw.mark_email_sent(batch, email, **by)
    key, level = f"k{cid.hex[:12]}", rnd.choice((None, 0, 2))
    em.save_email_template(batch, key, "fr", level=level, subject="Relevé {{ customer.number }}",
                           body="Bonjour,\nveuillez trouver le relevé.", **by)
    if rnd.random() < 0.5:
        em.save_email_template(batch, key, "fr", level=level, subject="Votre relevé",
                               body="Bonjour,\nvotre relevé est joint.", **by)


# -- reading ------------------------------------------------------------------------------------
def rows(database: Database, name: str, schema: str | None = None) -> dict[str, list[Any]]:
    """Every row of every table of read model ``name``, ordered by its key (the first columns)."""
    (cls,) = select(name)
    with database.connect() as conn:
        return {table: conn.execute(sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(
            sql.Identifier(schema or database.schema, table))).fetchall()
            for table in cls.tables}


def run_async(database: Database, reader: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``await reader(pool, *args, **kwargs)`` on a fresh asyncpg pool of the app's schema."""
    async def go() -> Any:
        pool = await asyncpg.create_pool(database.url, min_size=1, max_size=2,
                                         server_settings={"search_path": database.schema})
        try:
            return await reader(pool, *args, **kwargs)
        finally:
            await pool.close()
    return asyncio.run(go())


def head(database: Database) -> int:
    with database.connect() as conn:
        return int(conn.execute("SELECT max(notification_id) FROM collections_events")
                   .fetchone()[0])


def positions(database: Database, names: Sequence[str]) -> dict[str, int]:
    with database.connect() as conn:
        found = dict(conn.execute("SELECT name, position FROM projection_positions"
                                  " WHERE name = ANY(%s)", (list(names),)).fetchall())
    return {name: int(found.get(name, 0)) for name in names}


def follow_while(app: Collections, database: Database, names: Sequence[str],
                 work: Callable[[], None], *, page_size: int = 50) -> None:
    """Follow the models live (after their catch-up) while ``work`` writes, until they reach
    the head of the log."""
    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(app, stop, list(names)),
                                kwargs={"page_size": page_size})
    follower.start()
    try:
        work()
        last = head(database)
        deadline = time.monotonic() + 30
        while min(positions(database, names).values()) < last:
            assert time.monotonic() < deadline, positions(database, names)
            time.sleep(0.02)
    finally:
        stop.set()
        follower.join(timeout=10)
    assert not follower.is_alive()


def live_and_rebuilt(app: Collections, database: Database,
                     name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The live model's rows, and those of one built from zero in a scratch schema."""
    live = rows(database, name)
    other = f"{database.schema}_eq"
    try:
        build(app, name, other)
        rebuilt = rows(database, name, other)
    finally:
        with database.connect() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(other)))
    return live, rebuilt


def assert_equals_rebuild(app: Collections, database: Database, name: str) -> dict[str, Any]:
    """The live model, row by row, equals one built from zero in a scratch schema."""
    live, rebuilt = live_and_rebuilt(app, database, name)
    for table in live:
        assert live[table] == rebuilt[table], (name, table)
    return live
