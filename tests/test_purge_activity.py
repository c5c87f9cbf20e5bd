"""A customer's last activity after its streams were purged: the purged streams still count
(erasure of its contacts is due three years after it), live and after a rebuild alike."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from model_helpers import assert_equals_rebuild
from test_retention_policies import DAY, _customer, _due, _invoice, _pay

from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections
from ledger_collect.compliance.purge import Purger
from ledger_collect.compliance.retention_status import status_of
from ledger_collect.domain.compliance_run import ComplianceRun
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database

RUN = date(2024, 1, 10)


def _purge(app: Collections, database: Database, streams: list[UUID], on: date = RUN) -> None:
    run = ComplianceRun.start(action="purge", run_date=on, actor="compliance")
    app.save(run)
    with database.connect() as conn:
        assert Purger(app, run, actor="compliance").purge(conn, streams).streams == len(streams)
    catch_up(app, "retention_streams")


def _last_activity(database: Database, customer: UUID) -> date:
    with database.connect() as conn:
        return conn.execute("SELECT last_activity FROM retention_customers"
                            " WHERE customer_id = %s", (customer,)).fetchone()[0]


def test_a_purged_invoice_still_dates_its_customers_last_activity(
        app: Collections, database: Database) -> None:
    active, quiet = _customer(app, "C1"), _customer(app, "C2")
    invoice = _invoice(app, "C1", "I-1")
    _pay(app, "C1", "I-1", "100.00", date(2020, 5, 15))
    catch_up(app, "retention_streams")
    assert _last_activity(database, active) == date(2020, 5, 15)
    _purge(app, database, [invoice])
    assert _last_activity(database, active) == date(2020, 5, 15)  # not DAY, its registration
    assert _last_activity(database, quiet) == DAY
    assert [d.stream_id for d in _due(app, database, date(2023, 5, 14), "erase")] == [quiet]
    due = {d.stream_id: d.due_on for d in _due(app, database, date(2023, 5, 15), "erase")}
    assert due == {quiet: date(2023, 3, 2), active: date(2023, 5, 15)}
    [personal, *_] = status_of(app, "customer", active, RUN).records  # type: ignore[union-attr]
    assert (personal.record_class, personal.action_on) == ("customer_personal",
                                                           date(2023, 5, 15))
    rebuilt = assert_equals_rebuild(app, database, "retention_streams")
    assert rebuilt["retention_streams"] == [] or all(
        row[0] != invoice for row in rebuilt["retention_streams"])


def test_a_later_activity_of_the_customer_is_not_moved_by_a_purge(
        app: Collections, database: Database) -> None:
    customer = _customer(app, "C1")
    first, second = _invoice(app, "C1", "I-1"), _invoice(app, "C1", "I-2")
    _pay(app, "C1", "I-1", "100.00", date(2020, 5, 15))
    _pay(app, "C1", "I-2", "100.00", date(2020, 12, 31))
    app.run(rc.add_customer_note, customer, "n1", "called about the statement",
            actor="sue", business_date=date(2020, 9, 1))
    catch_up(app, "retention_streams")
    _purge(app, database, [first])  # older than the note: the note's day still counts
    assert _last_activity(database, customer) == date(2020, 12, 31)
    _purge(app, database, [second], date(2024, 1, 11))  # the latest: the day stays, carried by the purge
    assert _last_activity(database, customer) == date(2020, 12, 31)
    assert _due(app, database, date(2023, 12, 30), "erase") == []
    assert [d.due_on for d in _due(app, database, date(2023, 12, 31), "erase")] == [
        date(2023, 12, 31)]
    assert_equals_rebuild(app, database, "retention_streams")


def test_purges_carry_each_customers_latest_day_of_the_purged_streams(
        app: Collections, database: Database) -> None:
    one, two = _customer(app, "C1"), _customer(app, "C2")
    streams = [_invoice(app, "C1", "A-1"), _invoice(app, "C1", "A-2"), _invoice(app, "C2", "B-1")]
    _pay(app, "C1", "A-1", "100.00", date(2021, 2, 28))
    _pay(app, "C1", "A-2", "100.00", date(2021, 3, 1))
    _pay(app, "C2", "B-1", "100.00", date(2020, 3, 3))
    catch_up(app, "retention_streams")
    _purge(app, database, streams)
    [purged] = [e for e in app.events.get(ComplianceRun.create_id("purge", RUN))
                if isinstance(e, ComplianceRun.StreamsPurged)]
    assert purged.last_activity == {str(one): date(2021, 3, 1), str(two): date(2020, 3, 3)}
    assert _last_activity(database, one) == date(2021, 3, 1)
    assert _last_activity(database, two) == date(2020, 3, 3)  # a day after its registration
