"""Purging whole streams: gone from the store in batches that keep writers waiting briefly,
logged without personal data, and gone from the read models (followed live or caught up)
exactly as a rebuild without them would have them."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from model_helpers import TODAY, WHO, follow_while, write_casework

from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import post_invoice, register_customer
from ledger_collect.compliance.purge import Purger
from ledger_collect.domain.compliance_run import ComplianceRun
from ledger_collect.projections import registry
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database

RUN_DATE = date(2026, 11, 24)

def _assert_equals_rebuild(app: Collections, database: Database, name: str) -> None:
    """``assert_equals_rebuild`` with the timeline's rows compared without ``seq`` (rows are
    numbered as read: a rebuild numbers the rows left anew, in the same order)."""
    from model_helpers import live_and_rebuilt

    live, rebuilt = live_and_rebuilt(app, database, name)
    for table in live:
        if table == "timeline":
            assert [r[1:] for r in live[table]] == [r[1:] for r in rebuilt[table]]
        else:
            assert live[table] == rebuilt[table], (name, table)


def _run(app: Collections, action: str = "purge") -> ComplianceRun:
    run = ComplianceRun.start(action=action, run_date=RUN_DATE, actor="compliance")
    app.save(run)
    return run


def _streams_of_customers(database: Database, count: int) -> tuple[list[UUID], list[UUID]]:
    """The first ``count`` customers and every stream but theirs that is about them."""
    with database.connect() as conn:
        customers = [r[0] for r in conn.execute(
            "SELECT id FROM customers ORDER BY id LIMIT %s", (count,)).fetchall()]
        streams = [r[0] for r in conn.execute(
            "SELECT DISTINCT object_id FROM timeline WHERE customer_id = ANY(%s)"
            " AND object_id <> ALL(%s)", (customers, customers)).fetchall()]
    return customers, streams


def _hot(database: Database, ids: list[UUID]) -> int:
    with database.connect() as conn:
        return int(conn.execute("SELECT count(*) FROM collections_events"
                                " WHERE originator_id = ANY(%s)", (ids,)).fetchone()[0])


def _rows_of(database: Database, ids: list[UUID]) -> dict[str, int]:
    found = {}
    with database.connect() as conn:
        for cls in registry().values():
            for table, column in cls.stream_rows:
                found[table] = int(conn.execute(
                    f"SELECT count(*) FROM {table} WHERE {column} = ANY(%s)",  # noqa: S608
                    (ids,)).fetchone()[0])
    return found


def test_purged_streams_leave_the_store_the_log_and_every_read_model(
        app: Collections, database: Database) -> None:
    write_casework(app, 12)
    catch_up(app)
    customers, streams = _streams_of_customers(database, 3)
    assert streams and _hot(database, streams) > 0
    before = _rows_of(database, streams)
    assert sum(before.values()) > 0
    run = _run(app)
    with database.connect() as conn:
        purger = Purger(app, run, actor="compliance")
        purger.batch_size = 3  # several batches, each with its own event
        report = purger.purge(conn, streams)
    assert report.streams == len(streams) and report.batches > 1
    assert _hot(database, streams) == 0
    assert _hot(database, customers) > 0  # the customers' own streams stay
    logged = app.repository.get(run.id)
    assert logged.purged == len(streams)
    purges = [e for e in app.events.get(run.id) if isinstance(e, ComplianceRun.StreamsPurged)]
    assert sorted(i for e in purges for i in e.stream_ids) == sorted(streams)
    assert sum(e.events for e in purges) == report.events
    catch_up(app)
    assert set(_rows_of(database, streams).values()) == {0}
    for name in registry():
        _assert_equals_rebuild(app, database, name)


def test_a_live_follower_drops_the_rows_of_purged_streams(app: Collections,
                                                           database: Database) -> None:
    write_casework(app, 6)
    catch_up(app)
    _, streams = _streams_of_customers(database, 2)
    names = [n for n, cls in registry().items() if cls.stream_rows]

    def purge() -> None:
        with database.connect() as conn:
            Purger(app, _run(app), actor="compliance").purge(conn, streams)

    follow_while(app, database, names, purge)
    assert set(_rows_of(database, streams).values()) == {0}


def test_a_stream_written_to_after_it_was_archived_is_not_purged(
        app: Collections, database: Database) -> None:
    batch = app.batch()
    register_customer(batch, number="P1", name="Purge Ltd", segment="north",
                            credit_limit=Decimal(1000), currency="EUR", risk_class="A",
                            source_id="reg-P1", **WHO)
    first = post_invoice(batch, customer_number="P1", document_number="I-1", amount=Decimal(10),
                         currency="EUR", posting_date=TODAY, due_date=TODAY,
                         source_id="inv-1", **WHO)
    second = post_invoice(batch, customer_number="P1", document_number="I-2", amount=Decimal(10),
                          currency="EUR", posting_date=TODAY, due_date=TODAY,
                          source_id="inv-2", **WHO)
    app.save_batch(batch)
    with database.connect() as conn:
        report = Purger(app, _run(app), actor="compliance").purge(
            conn, [first, second], keep={first: 1, second: 0})
    assert report.skipped == [second] and report.streams == 1
    assert _hot(database, [first]) == 0 and _hot(database, [second]) == 1


def _many_streams(app: Collections, customers: int, invoices: int) -> list[UUID]:
    ids = []
    for c in range(customers):
        batch = app.batch()
        register_customer(batch, number=f"M{c}", name=f"Many {c}", segment="north",
                                credit_limit=Decimal(1000), currency="EUR", risk_class="A",
                                source_id=f"reg-M{c}", **WHO)
        for i in range(invoices):
            ids.append(post_invoice(batch, customer_number=f"M{c}", document_number=f"M{c}-{i}",
                                    amount=Decimal(10), currency="EUR", posting_date=TODAY,
                                    due_date=TODAY, source_id=f"inv-M{c}-{i}", **WHO))
        app.save_batch(batch)
    return ids


def test_writers_never_wait_long_for_a_purge(app: Collections, database: Database) -> None:
    doomed = _many_streams(app, 40, 100)
    stop = threading.Event()
    waits: list[float] = []
    failures: list[BaseException] = []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            batch = app.batch()
            started = time.perf_counter()
            try:
                register_customer(batch, number=f"W{n}", name=f"Writer {n}", segment="south",
                                  credit_limit=Decimal(1000), currency="EUR", risk_class="B",
                                  source_id=f"reg-W{n}", **WHO)
                app.save_batch(batch)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failures.append(exc)
                return
            waits.append(time.perf_counter() - started)
            n += 1
            time.sleep(0.002)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.2)
        with database.connect() as conn:
            report = Purger(app, _run(app), actor="compliance").purge(conn, doomed)
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not failures
    assert report.streams == len(doomed) and report.batches > 3
    assert report.longest_hold < 0.2
    assert len(waits) > 20 and max(waits) < 0.2, max(waits)
    assert _hot(database, doomed) == 0


@pytest.mark.store("memory")
def test_a_run_is_one_stream_per_action_and_date(app: Any) -> None:
    run = ComplianceRun.start(action="archive", run_date=RUN_DATE, actor="x")
    assert run.id == ComplianceRun.create_id("archive", RUN_DATE)
    assert run.id != ComplianceRun.create_id("purge", RUN_DATE)
    assert run.id != ComplianceRun.create_id("archive", date(2026, 11, 25))
    run.resume(actor="x")
    assert run.attempts == 2
