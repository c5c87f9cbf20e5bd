"""The projection framework: exactly-once pages, catch-up, live following, rebuild with an atomic
swap, status, read-your-writes, and a read model that survives kill -9 identical to a rebuild.

Portfolios are written through the real commands (every kind of event open items reads, and
personal data the mapper must unseal on the way)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from eventsourcing.persistence import MapperDeserialisationError
from psycopg import sql

from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    close_dispute,
    open_dispute,
    record_dispute_progress,
    resolve_dispute,
    start_dispute_processing,
)
from ledger_collect.commands.promise_commands import record_promise, withdraw_promise
from ledger_collect.commands.receivable_commands import (
    add_contact,
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
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.projections import UnknownProjectionError, select
from ledger_collect.projections.aging_report import top_balances
from ledger_collect.projections.engine import (
    EventLog,
    RebuildRunningError,
    StaleProjectionError,
    build,
    catch_up,
    lock_key,
    rebuild,
    scratch_schema,
    status,
)
from ledger_collect.projections.live import ProjectionTimeoutError, follow
from ledger_collect.projections.open_items import OpenItems
from ledger_collect.projections.waiting import watching
from ledger_collect.storage.database import Database

TODAY = date(2026, 11, 23)
WHO = {"actor": "erp", "business_date": TODAY}


def write_portfolio(app: Collections, customers: int, *, seed: int = 1, chunk: int = 50,
                    prefix: str = "C") -> int:
    """Customers with invoices paid in part, reversed, credited, cleared, written off, dunned,
    promised, withdrawn, disputed over two invoices; credits on account. Returns the last
    notification id written."""
    rnd = random.Random(seed)
    last = 0
    for start in range(0, customers, chunk):
        batch = app.batch()
        for c in range(start, min(customers, start + chunk)):
            _customer(batch, rnd, f"{prefix}{seed}-{c:05d}", c)
        last = app.save_batch(batch) or last
    return last


def _customer(batch: Any, rnd: random.Random, number: str, c: int) -> None:
    cid = register_customer(batch, number=number, name=f"Customer {c}", segment="SME",
                            credit_limit=Decimal(10000), currency="EUR",
                            risk_class=rnd.choice("ABCDE"), source_id=f"reg-{number}", **WHO)
    add_contact(batch, cid, "main", name=f"Jeanne {c}", email=f"j{c}@example.com", **WHO)
    invoices = []
    for i in range(rnd.randint(3, 8)):
        doc = f"{number}-I{i}"
        due = TODAY - timedelta(days=rnd.randint(-40, 200))
        amount = Decimal(rnd.randint(100, 500000)) / 100
        invoices.append(post_invoice(batch, customer_number=number, document_number=doc,
                                     amount=amount, currency="EUR",
                                     posting_date=due - timedelta(days=30), due_date=due,
                                     source_id=f"inv-{doc}", **WHO))
        roll = rnd.random()
        if roll < 0.3:
            part = (amount / 3).quantize(Decimal("0.01"))
            apply_payment(batch, source_id=f"pay-{doc}", customer_number=number,
                          allocations=[(doc, part)], unapplied=None, currency="EUR",
                          payment_date=TODAY, **WHO)
            if rnd.random() < 0.3:
                reverse_payment(batch, source_id=f"rev-{doc}", invoice_number=doc,
                                payment_source_id=f"pay-{doc}", **WHO)
        elif roll < 0.4:
            clear_invoice(batch, source_id=f"clr-{doc}", invoice_number=doc, **WHO)
        elif roll < 0.45:
            write_off_invoice(batch, source_id=f"wo-{doc}", invoice_number=doc, reason="lost",
                              **WHO)
        elif roll < 0.55:
            apply_credit_memo(batch, source_id=f"cm-{doc}", customer_number=number,
                              invoice_number=doc, amount=Decimal("1.00"), currency="EUR",
                              document_date=TODAY, **WHO)
        invoice = batch.get(Invoice, invoices[-1])
        if invoice.is_open and due < TODAY and rnd.random() < 0.4:
            raise_dunning_level(batch, invoice.id, **WHO)
        if invoice.is_open and rnd.random() < 0.25:
            promise = record_promise(batch, invoice_id=invoice.id,
                                     amount=min(invoice.open_amount, Decimal("50.00")),
                                     promised_date=TODAY + timedelta(days=5), **WHO)
            if rnd.random() < 0.3:
                withdraw_promise(batch, promise, reason="changed their mind", **WHO)
            elif rnd.random() < 0.3 and invoice.is_open:  # pays towards the promise
                apply_payment(batch, source_id=f"ptp-{doc}", customer_number=number,
                              allocations=[(doc, min(invoice.open_amount, Decimal("20.00")))],
                              unapplied=None, currency="EUR", payment_date=TODAY, **WHO)
    still_open = [i for i in invoices if batch.get(Invoice, i).is_open]
    if len(still_open) >= 2 and rnd.random() < 0.3:
        first, second = (batch.get(Invoice, i) for i in still_open[:2])
        dispute = open_dispute(batch, cid, [first.id, second.id],
                               amount=((first.open_amount + second.open_amount) / 2).quantize(
                                   Decimal("0.01")),
                               reason="price", processor="pat", note="price is wrong", **WHO)
        if rnd.random() < 0.5:
            start_dispute_processing(batch, dispute, **WHO)
            record_dispute_progress(batch, dispute, credited=Decimal("1.00"), **WHO)
            if rnd.random() < 0.5:
                resolve_dispute(batch, dispute, "rejected", **WHO)
                close_dispute(batch, dispute, **WHO)
    if rnd.random() < 0.2:
        apply_payment(batch, source_id=f"onacct-{number}", customer_number=number,
                      allocations=[], unapplied=Decimal("12.34"), currency="EUR",
                      payment_date=TODAY, **WHO)
    if rnd.random() < 0.2:
        apply_credit_memo(batch, source_id=f"cmacct-{number}", customer_number=number,
                          invoice_number=None, amount=Decimal("5.00"), currency="EUR",
                          document_date=TODAY, **WHO)


# -- helpers ---------------------------------------------------------------------------------
def only_unread_events(app: Collections, number: str) -> int:
    """A customer and a contact: events open items does not read. Returns the last id."""
    batch = app.batch()
    customer = register_customer(batch, number=number, name="X", segment="S",
                                 credit_limit=Decimal(1), currency="EUR", risk_class="A",
                                 source_id=f"reg-{number}", **WHO)
    add_contact(batch, customer, "c", name="Ann", **WHO)
    last = app.save_batch(batch)
    assert last is not None
    return last


def rows(database: Database, schema: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every open-items table, ordered: what two models must share."""
    with database.connect() as conn:
        return {table: conn.execute(sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(
            sql.Identifier(schema or database.schema, table))).fetchall()
            for table in OpenItems.tables}


def position(database: Database, name: str = "open_items") -> int:
    with database.connect() as conn:
        row = conn.execute("SELECT position FROM projection_positions WHERE name = %s",
                           (name,)).fetchone()
        return int(row[0]) if row else 0


def head(database: Database) -> int:
    with database.connect() as conn:
        return int(conn.execute("SELECT max(notification_id) FROM collections_events")
                   .fetchone()[0])


def drop_schema(database: Database, schema: str) -> None:
    with database.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# -- catch-up and exactly-once -----------------------------------------------------------------
def test_catch_up_builds_the_model_once_and_rerunning_changes_nothing(app: Collections,
                                                                      database: Database) -> None:
    last = write_portfolio(app, 30)
    reached = catch_up(app, "open_items", page_size=100)
    assert reached == {"open_items": last} and position(database) == last
    first = rows(database)
    assert len(first["open_items"]) > 100 and first["customer_credits"]
    assert catch_up(app, "open_items", page_size=7) == {"open_items": last}
    assert rows(database) == first


def test_a_page_that_fails_leaves_rows_and_position_untouched(app: Collections,
                                                              database: Database) -> None:
    write_portfolio(app, 5)
    catch_up(app, "open_items")
    before, at = rows(database), position(database)
    write_portfolio(app, 3, prefix="N")
    log = EventLog(app)
    with log.connect() as conn, pytest.raises(ZeroDivisionError), conn.transaction():
        here = log.lock(conn, OpenItems)
        applied, reached = log.apply_page(conn, OpenItems(), here, 1000)
        assert applied > 0 and reached > at
        log.save_position(conn, OpenItems, reached)
        raise ZeroDivisionError  # the process dies before the commit
    assert rows(database) == before and position(database) == at
    catch_up(app, "open_items")
    assert len(rows(database)["open_items"]) > len(before["open_items"])


def test_positions_move_past_events_the_model_does_not_read(app: Collections,
                                                            database: Database) -> None:
    write_portfolio(app, 2)
    catch_up(app, "open_items")
    last = only_unread_events(app, "X")
    assert catch_up(app, "open_items", page_size=2) == {"open_items": last}


def test_every_row_agrees_with_its_aggregate(app: Collections, database: Database) -> None:
    write_portfolio(app, 40, seed=7)
    catch_up(app, "open_items", page_size=64)
    with database.connect() as conn:
        items = conn.execute("SELECT id, open_amount, paid_amount, credited_amount, status,"
                             " dunning_level, promise_id, promise_status, promise_paid,"
                             " open_disputes FROM open_items").fetchall()
    statuses = set()
    for (invoice_id, open_amount, paid, credited, state, level, promise_id, promise_status,
         promise_paid, open_disputes) in items:
        invoice = app.repository.get(invoice_id)
        assert (open_amount, paid, credited, state, level) == (
            invoice.open_amount, invoice.paid_amount, invoice.credited_amount,
            invoice.status, invoice.dunning_level)
        active = [app.repository.get(d) for d in invoice.dispute_ids]
        assert open_disputes == sum(d.status in ("open", "in_process") for d in active)
        if promise_id is not None:
            promise: PromiseToPay = app.repository.get(promise_id)
            assert (promise_status, promise_paid) == (promise.status, promise.paid_amount)
            statuses.add(promise_status)
    assert {"open", "withdrawn", "in_process"} <= statuses


# -- rebuild --------------------------------------------------------------------------------
def test_rebuild_swaps_a_complete_model_in_and_readers_never_see_half(app: Collections,
                                                                      database: Database) -> None:
    write_portfolio(app, 60)
    catch_up(app, "open_items")
    complete = rows(database)
    with database.connect() as conn:
        old_table = conn.execute("SELECT 'open_items'::regclass::oid").fetchone()[0]
    seen: list[tuple[int, int, int]] = []

    def progress(done: int, total: int) -> None:
        with database.connect() as reader:  # another session, while the new model is half built
            count = reader.execute("SELECT count(*) FROM open_items").fetchone()[0]
        seen.append((done, total, count))

    reached = rebuild(app, "open_items", page_size=200, progress=progress)
    assert reached == {"open_items": head(database)}
    half_built = [s for s in seen if 0 < s[0] < s[1]]
    assert half_built, "the rebuild should have taken several pages"
    assert all(count == len(complete["open_items"]) for _, _, count in seen)
    assert seen[-1][0] == seen[-1][1]  # progress ends at total
    assert rows(database) == complete
    with database.connect() as conn:
        assert conn.execute("SELECT 'open_items'::regclass::oid").fetchone()[0] != old_table
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                            (scratch_schema(database.schema, "open_items"),)).fetchone()[0] == 0


def test_a_rebuilt_model_goes_live_vacuumed_and_analysed(app: Collections,
                                                         database: Database) -> None:
    """The planner knows the new tables at once: row counts analysed and the tables vacuumed
    (so the visibility map exists and index-only scans are priced as such), not left to
    autovacuum. Whether VACUUM may mark a page all visible depends on every other open
    snapshot in the database (an autovacuum ANALYZE elsewhere holds one back), so the test
    asserts the VACUUM itself, counted by PostgreSQL, not the map's contents."""
    write_portfolio(app, 40)
    rebuild(app, "open_items", page_size=100)
    with database.connect() as conn:
        tables = conn.execute(
            "SELECT c.relname, c.reltuples, pg_stat_get_vacuum_count(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s"
            " AND c.relkind = 'r' AND c.relname = ANY(%s) ORDER BY c.relname",
            (database.schema, list(OpenItems.tables))).fetchall()
        counted = {name: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(name))).fetchone()[0] for name, *_ in tables}
    assert [name for name, *_ in tables] == sorted(OpenItems.tables)
    assert counted["open_items"] > 100
    for name, tuples, vacuums in tables:
        assert tuples == counted[name], name  # -1 when never analysed
        assert vacuums >= 1, name


def test_a_rebuild_that_meets_an_unreadable_event_fails_and_keeps_the_live_model(
        app: Collections, database: Database) -> None:
    write_portfolio(app, 30)
    catch_up(app, "open_items")
    complete = rows(database)
    with database.connect() as conn:  # an invoice's last event, well into the log, damaged
        broken = conn.execute(
            "SELECT max(notification_id) FROM collections_events WHERE topic = %s",
            ("ledger_collect.Invoice.Posted",)).fetchone()[0]
        conn.execute("UPDATE collections_events SET state = %s WHERE notification_id = %s",
                     (b"{not json", broken))
    pages: list[int] = []
    with pytest.raises(MapperDeserialisationError, match="Failed to deserialise"):
        rebuild(app, "open_items", page_size=40, progress=lambda done, _: pages.append(done))
    assert pages[-1] > 0  # the pages before it were read ahead and applied
    assert rows(database) == complete
    assert {t.name for t in threading.enumerate()} & {"projection-prefetch"} == set()


def test_async_readers_keep_working_across_a_rebuild(app: Collections,
                                                    database: Database) -> None:
    write_portfolio(app, 10)
    catch_up(app, "open_items")

    async def around() -> tuple[list[Any], list[Any]]:
        pool = await asyncpg.create_pool(database.url, min_size=1, max_size=1,
                                         server_settings={"search_path": database.schema})
        try:
            before = [await top_balances(pool, TODAY, 5) for _ in range(3)]  # statement cached
            rebuild(app, "open_items")  # blocks the loop: the pool's connection stays idle
            return before[-1], await top_balances(pool, TODAY, 5)
        finally:
            await pool.close()

    before, after = asyncio.run(around())
    assert len(before) == 5 and after == before


def test_a_second_rebuild_of_the_same_model_is_refused(app: Collections,
                                                       database: Database) -> None:
    write_portfolio(app, 2)
    with database.connect() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)",
                     (lock_key(database.schema, "open_items", "rebuild"),))
        with pytest.raises(RebuildRunningError, match="open_items is already being rebuilt"):
            rebuild(app, "open_items")


def test_unknown_model_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownProjectionError, match="no read model called aging; known: "
                                                     "open_items"):
        select("aging")


def test_status_shows_position_lag_and_a_changed_definition(app: Collections,
                                                            database: Database) -> None:
    last = write_portfolio(app, 3)
    (before,) = status(app, "open_items")
    assert (before.state, before.position, before.lag, before.head) == (
        "not built", 0, head(database), head(database))
    catch_up(app, "open_items")
    (now,) = status(app, "open_items")
    assert (now.state, now.position, now.lag) == ("current", last, 0)
    customer_events = head(database)
    write_portfolio(app, 1, prefix="L")
    (behind,) = status(app, "open_items")
    assert behind.state == "behind" and behind.lag == head(database) - customer_events > 0
    with database.connect() as conn:
        conn.execute("UPDATE projection_positions SET checksum = 'older definition'")
    assert status(app, "open_items")[0].state == "stale"
    with pytest.raises(StaleProjectionError,
                       match="ledger-collect projections rebuild open_items"):
        catch_up(app, "open_items")
    stop = threading.Event()
    stop.set()  # a projector started on a stale model rebuilds it first, then follows
    follow(app, stop, "open_items")
    assert status(app, "open_items")[0].state == "current"


# -- live following and read-your-writes ---------------------------------------------------------
def test_follow_applies_new_events_and_wait_for_sees_them(app: Collections,
                                                          database: Database) -> None:
    write_portfolio(app, 5)
    stop = threading.Event()
    pages: list[dict[str, int]] = []
    follower = threading.Thread(target=follow, args=(app, stop, "open_items"),
                                kwargs={"on_page": pages.append})
    follower.start()
    try:
        async def scenario() -> None:
            pool = await asyncpg.create_pool(database.url, min_size=1, max_size=2,
                                             server_settings={"search_path": database.schema})
            try:
                async with watching(database.url, database.schema) as watch:
                    # Events written while the follower subscribes wait for the next one
                    # (the library reads the log before it listens): write until it follows.
                    for attempt in range(20):
                        warm = write_portfolio(app, 1, seed=900 + attempt, prefix="Warm")
                        with contextlib.suppress(ProjectionTimeoutError):
                            await watch.wait_for(["open_items"], warm, timeout=1)
                            break
                    for n in range(5):
                        last = write_portfolio(app, 2, seed=100 + n, prefix="Live")
                        await watch.wait_for(["open_items"], last, timeout=5)
                        assert await pool.fetchval("SELECT count(*) FROM open_items WHERE"
                                                   " document_number LIKE $1",
                                                   f"Live{100 + n}-%") > 0
                    await watch.wait_for(["open_items"], only_unread_events(app, "Y"), timeout=5)
                    with pytest.raises(ProjectionTimeoutError, match="open_items at"):
                        await watch.wait_for(["open_items"], 10**12, timeout=0.3)
            finally:
                await pool.close()
        asyncio.run(scenario())
    finally:
        stop.set()
        follower.join(timeout=10)
    assert not follower.is_alive() and pages
    live_rows = rows(database)
    other = database.schema + "_check"
    try:
        build(app, "open_items", other)
        assert rows(database, other) == live_rows
    finally:
        drop_schema(database, other)


def test_follower_and_rebuild_take_turns(app: Collections, database: Database) -> None:
    write_portfolio(app, 40)
    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(app, stop, "open_items"),
                                kwargs={"page_size": 50})
    follower.start()
    try:
        writer = threading.Thread(target=write_portfolio, args=(app, 60),
                                  kwargs={"seed": 3, "chunk": 5, "prefix": "W"})
        writer.start()
        rebuild(app, "open_items", page_size=100)
        writer.join()
        last = head(database)
        deadline = time.monotonic() + 20
        while position(database) < last and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        follower.join(timeout=10)
    assert position(database) == last
    other = database.schema + "_check"
    try:
        build(app, "open_items", other)
        assert rows(database) == rows(database, other)
    finally:
        drop_schema(database, other)


# -- kill -9 ------------------------------------------------------------------------------------
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
    catch_up(app, "open_items", page_size=int(sys.argv[2]))
else:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    follow(app, stop, "open_items", page_size=int(sys.argv[2]))
app.close()
"""


def projector(settings: Settings, mode: str, page_size: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, LEDGER_DATABASE_URL=settings.database_url or "",
               LEDGER_SCHEMA=settings.schema, LEDGER_MASTER_KEY=settings.master_key or "",
               LEDGER_DATA_DIR=str(settings.data_dir))
    return subprocess.Popen([sys.executable, "-c", PROJECTOR, mode, str(page_size)], env=env)


def wait_until(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


@pytest.mark.slow
def test_killed_mid_catch_up_and_mid_follow_the_model_ends_identical_to_a_rebuild(
        app: Collections, database: Database, settings: Settings) -> None:
    write_portfolio(app, 250)
    total = head(database)
    assert total > 3000
    first = projector(settings, "catch-up", 5)
    wait_until(lambda: position(database) > total // 3)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = position(database)
    assert 0 < killed_at < total, "the projector was to be killed in the middle"

    second = projector(settings, "follow", 20)  # catches up, then follows what comes
    wait_until(lambda: position(database) == total)
    for n in range(30):  # live traffic; killed in the middle of it
        write_portfolio(app, 3, seed=10 + n, prefix="K", chunk=1)
        if n == 15:
            second.send_signal(signal.SIGKILL)
            second.wait()
    assert position(database) < head(database)
    third = projector(settings, "follow", 20)
    try:
        wait_until(lambda: position(database) == head(database))
    finally:
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=20) == 0
    other = database.schema + "_rebuilt"
    try:
        build(app, "open_items", other)
        live, rebuilt = rows(database), rows(database, other)
        assert len(live["open_items"]) > 1500
        for table in OpenItems.tables:
            assert live[table] == rebuilt[table], table
    finally:
        drop_schema(database, other)
