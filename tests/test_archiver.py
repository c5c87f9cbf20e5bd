"""The archive run: due streams go to verified segments, then leave the store and the read
models; nothing else moves; a second run finds nothing; and a run killed (SIGKILL) at any
step leaves every stream whole in the store, in a verified segment, or both, and the next
run completes it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from model_helpers import TODAY, WHO

from ledger_collect.app import child_environment
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import (
    apply_payment,
    post_invoice,
    register_customer,
)
from ledger_collect.compliance.archive import open_archive
from ledger_collect.compliance.archiver import archive_run
from ledger_collect.domain.compliance_run import ComplianceRun
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database

#: Past every cleared invoice's hot period (two years after clearing).
LATER = TODAY + timedelta(days=3 * 366)
CHILD = Path(__file__).with_name("archive_crash_child.py")


def _portfolio(app: Collections, customers: int, invoices: int) -> tuple[list[UUID], list[UUID]]:
    """Customers with invoices, every other one paid in full: (cleared, open) invoice ids."""
    cleared, still_open = [], []
    for c in range(customers):
        batch = app.batch()
        number = f"A{c:03d}"
        register_customer(batch, number=number, name=f"Archive {c}", segment="north",
                          credit_limit=Decimal(10000), currency="EUR", risk_class="A",
                          source_id=f"reg-{number}", **WHO)
        paid = []
        for i in range(invoices):
            doc = f"{number}-{i}"
            made = post_invoice(batch, customer_number=number, document_number=doc,
                                amount=Decimal(100 + i), currency="EUR",
                                posting_date=TODAY - timedelta(days=40),
                                due_date=TODAY - timedelta(days=10), source_id=f"inv-{doc}",
                                **WHO)
            (cleared if i % 2 == 0 else still_open).append(made)
            if i % 2 == 0:
                paid.append((doc, Decimal(100 + i)))
        apply_payment(batch, source_id=f"pay-{number}", customer_number=number,
                      allocations=paid, unapplied=None, currency="EUR", payment_date=TODAY,
                      **WHO)
        app.save_batch(batch)
    return cleared, still_open


def _stored(database: Database, ids: list[UUID]) -> dict[UUID, list[tuple[Any, ...]]]:
    found: dict[UUID, list[tuple[Any, ...]]] = {}
    with database.connect() as conn:
        for row in conn.execute(
                "SELECT originator_id, originator_version, topic, state, notification_id"
                " FROM collections_events WHERE originator_id = ANY(%s)"
                " ORDER BY originator_id, originator_version", (ids,)).fetchall():
            found.setdefault(row[0], []).append((*row[:3], bytes(row[3]), row[4]))
    return found


def _archived(archive: Any) -> dict[UUID, list[tuple[Any, ...]]]:
    found: dict[UUID, list[tuple[Any, ...]]] = {}
    for info in archive.segments():
        for e in archive.read_segment(info.number):
            found.setdefault(e.originator_id, []).append(
                (e.originator_id, e.originator_version, e.topic, e.state, e.notification_id))
    return found


def _assert_each_stream_kept_whole(app: Collections, database: Database,
                                   originals: dict[UUID, list[tuple[Any, ...]]]) -> None:
    """Hot and whole, or archived whole in a verified segment, or both; never neither."""
    assert app.database is not None
    archive = open_archive(app.settings, app.database)
    report = archive.verify()
    assert report.ok, report.problems
    hot, archived = _stored(database, list(originals)), _archived(archive)
    for stream_id, events in originals.items():
        assert stream_id in hot or stream_id in archived, stream_id
        if stream_id in hot:
            assert hot[stream_id] == events
        if stream_id in archived:
            assert archived[stream_id] == events


def test_due_streams_are_archived_verified_and_purged(app: Collections,
                                                      database: Database) -> None:
    cleared, still_open = _portfolio(app, 6, 6)
    originals = _stored(database, cleared + still_open)
    counts = archive_run(app, business_date=LATER, segment_streams=4)
    assert counts["streams"] == len(cleared) == counts["purged_streams"]
    assert counts["events"] == counts["purged_events"] == sum(
        len(originals[i]) for i in cleared)
    assert counts["segments"] == -(-len(cleared) // 4)
    assert counts["resumed"] == counts["skipped"] == 0
    assert counts["longest_hold_ms"] < 200
    assert _stored(database, cleared) == {}
    assert _stored(database, still_open) == {i: originals[i] for i in still_open}
    _assert_each_stream_kept_whole(app, database, originals)
    run = app.repository.get(ComplianceRun.create_id("archive", LATER))
    assert run.finished and run.purged == len(cleared) and len(run.segments) == counts["segments"]
    catch_up(app)
    with database.connect() as conn:
        left = conn.execute("SELECT id FROM open_items WHERE id = ANY(%s)",
                            (cleared + still_open,)).fetchall()
    assert {r[0] for r in left} == set(still_open)
    again = archive_run(app, business_date=LATER)
    assert again["streams"] == again["purged_streams"] == again["segments"] == 0


def test_nothing_is_due_the_day_before_the_hot_period_ends(app: Collections,
                                                           database: Database) -> None:
    cleared, _ = _portfolio(app, 2, 2)
    counts = archive_run(app, business_date=TODAY + timedelta(days=365))
    assert counts["streams"] == 0
    assert set(_stored(database, cleared)) == set(cleared)


STEPS = [("segment", 1), ("manifest", 1), ("indexed", 1), ("segment", 2), ("indexed", 2),
         ("deleting", 1), ("purged", 1), ("deleting", 3), ("purged", 3)]


@pytest.mark.parametrize(("step", "nth"), STEPS)
def test_a_run_killed_at_any_step_loses_nothing_and_the_next_completes_it(
        app: Collections, database: Database, step: str, nth: int) -> None:
    cleared, still_open = _portfolio(app, 4, 6)
    originals = _stored(database, cleared + still_open)
    env = {**child_environment(app.settings, database),
           "LEDGER_DATA_DIR": str(app.settings.data_dir)}
    env.pop("LEDGER_ARCHIVE_URL", None)
    child = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(CHILD), step, str(nth), LATER.isoformat(), "3"],
        env=env, capture_output=True, text=True, timeout=120,
        cwd=os.path.dirname(CHILD))
    assert child.returncode == -9, (child.stdout, child.stderr)
    _assert_each_stream_kept_whole(app, database, originals)
    counts = archive_run(app, business_date=LATER, segment_streams=3)
    assert _stored(database, cleared) == {}
    assert set(_stored(database, still_open)) == set(still_open)
    _assert_each_stream_kept_whole(app, database, originals)
    assert set(_archived(open_archive(app.settings, database))) == set(cleared)
    run = app.repository.get(ComplianceRun.create_id("archive", LATER))
    assert run.finished and run.attempts == 2
    assert run.purged == len(cleared)  # over both attempts
    # archived by the killed run but still in the store: purged first by the next
    assert (counts["resumed"] > 0) == (step in ("manifest", "indexed", "deleting"))


def test_archive_run_command_prints_what_it_did(app: Collections, database: Database) -> None:
    from click.testing import CliRunner

    from ledger_collect.cli import cli

    cleared, _ = _portfolio(app, 2, 4)
    env = {"LEDGER_DATABASE_URL": app.settings.database_url, "LEDGER_SCHEMA": database.schema,
           "LEDGER_MASTER_KEY": app.settings.master_key,
           "LEDGER_DATA_DIR": str(app.settings.data_dir), "LEDGER_ARCHIVE_URL": None}
    result = CliRunner().invoke(cli, ["archive", "run", "--date", LATER.isoformat()], env=env)
    assert result.exit_code == 0, result.output
    assert f"archive run for {LATER.isoformat()}" in result.output
    assert f"  streams: {len(cleared)}\n" in result.output
    assert _stored(database, cleared) == {}


def test_a_stream_written_to_since_it_was_archived_is_archived_again_whole(
        app: Collections, database: Database) -> None:
    cleared, _ = _portfolio(app, 1, 2)
    (stream,) = cleared
    originals = _stored(database, cleared)
    assert len(originals[stream]) > 1
    archive = open_archive(app.settings, database)
    archive.reconcile()
    from ledger_collect.compliance.archiver import read_streams

    with database.connect() as conn:
        first = read_streams(conn, app, [stream])[:1]  # the archive has its first event only
    archive.append_segment(first)
    counts = archive_run(app, business_date=LATER)
    assert counts["resumed"] == 0 and counts["skipped"] == 1  # not purged as it stood
    assert counts["streams"] == 1 and counts["segments"] == 1 and counts["purged_streams"] == 1
    assert _stored(database, cleared) == {}
    last = max(info.number for info in archive.segments())
    again = [(e.originator_id, e.originator_version, e.topic, e.state, e.notification_id)
             for e in archive.read_segment(last)]
    assert again == originals[stream]


def test_the_purge_run_deletes_closed_activities_without_archiving(
        app: Collections, database: Database) -> None:
    from ledger_collect.commands.casework_commands import close_activity, create_activity
    from ledger_collect.compliance.archiver import purge_run
    from ledger_collect.domain.customer import Customer

    batch = app.batch()
    register_customer(batch, number="Q1", name="Quiet Ltd", segment="north",
                      credit_limit=Decimal(1000), currency="EUR", risk_class="A",
                      source_id="reg-Q1", **WHO)
    customer = Customer.create_id("Q1")
    done, still_open = (create_activity(batch, customer, specialist="alice", due_date=TODAY,
                                        description=f"call {n}", **WHO) for n in (1, 2))
    app.save_batch(batch)
    batch = app.batch()
    close_activity(batch, done, note="reached", **WHO)
    app.save_batch(batch)
    assert purge_run(app, business_date=TODAY + timedelta(days=3 * 365))["purged_streams"] == 0
    counts = purge_run(app, business_date=LATER)
    assert counts["purged_streams"] == 1 and counts["purged_events"] == 2
    assert set(_stored(database, [done, still_open])) == {still_open}
    assert list(open_archive(app.settings, database).segments()) == []
