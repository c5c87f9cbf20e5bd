"""A read model that fails on an event stops alone: the others reach the head, the failing one
keeps its position and shows its error (status, the CLI), is tried again with a growing pause,
and goes on by itself once the cause is gone. A database that goes away for a while stops no
projector: it waits, then projects what was written after the outage without a restart.

The failing writer is the real disputes model with a bug put in for the test: it refuses the
dispute handled by processor "BREAKS" until the test "deploys the fix"."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from model_helpers import TODAY, assert_equals_rebuild, head, positions, write_casework
from test_cli import invoke

from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.invoice import Invoice
from ledger_collect.projections import select
from ledger_collect.projections.disputes import Disputes
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.failures import Backoff, ModelFailedError
from ledger_collect.projections.follower import follow
from ledger_collect.projections.status import status
from ledger_collect.storage.database import Database
from ledger_collect.storage.embedded import EmbeddedPostgres

MODELS = [cls.name for cls in select()]
BY = {"actor": "sue", "business_date": TODAY}


class BrokenDisputesWriter:
    """The disputes model's writer with a bug: a page holding the dispute of processor
    "BREAKS" raises, until ``fix``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.broken = True
        original = Disputes.apply

        def apply(model: Disputes, conn: Any, events: Any) -> None:
            if self.broken and any(isinstance(e, DisputeCase.Opened)
                                   and e.processor == "BREAKS" for e in events):
                raise RuntimeError("the writer cannot take processor BREAKS")
            original(model, conn, events)

        monkeypatch.setattr(Disputes, "apply", apply)

    def fix(self) -> None:
        self.broken = False


def open_breaking_dispute(app: Collections, database: Database) -> int:
    """A dispute the broken writer refuses; returns its notification id."""
    invoice = app.repository.get(Invoice.create_id("K1-0000-I0"))  # write_casework's
    dispute = app.run(cw.open_dispute, invoice.customer_id, [invoice.id],
                      amount=Decimal("1.00"), reason="price", processor="BREAKS", **BY).result
    with database.connect() as conn:
        return int(conn.execute(
            "SELECT notification_id FROM collections_events WHERE originator_id = %s"
            " AND originator_version = 1", (dispute,)).fetchone()[0])


def wait_until(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_failing_model_stops_alone_shows_why_and_goes_on_once_fixed(
        app: Collections, database: Database, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    write_casework(app, 3)
    writer = BrokenDisputesWriter(monkeypatch)
    bad = open_breaking_dispute(app, database)
    write_casework(app, 2, seed=2, prefix="L")
    last = head(database)
    with pytest.raises(ModelFailedError, match=f"read model disputes failed at notification "
                                               f"{bad}: RuntimeError: the writer cannot take"):
        catch_up(app)
    reached = positions(database, MODELS)
    assert {n: p for n, p in reached.items() if n != "disputes"} == {
        n: last for n in MODELS if n != "disputes"}
    assert 0 < reached["disputes"] < bad  # up to the event before it, one by one
    (disputes,) = status(app, "disputes")
    assert (disputes.state, disputes.position, disputes.failed_notification,
            disputes.attempts) == ("failing", reached["disputes"], bad, 1)
    assert disputes.error == "RuntimeError: the writer cannot take processor BREAKS"
    with pytest.raises(ModelFailedError):
        catch_up(app, "disputes")
    assert status(app, "disputes")[0].attempts == 2
    shown = invoke(settings, "projections", "status")
    assert shown.exit_code == 0, shown.output
    line = next(row for row in shown.output.splitlines() if row.startswith("disputes "))
    assert line.split()[1:2] == [str(reached["disputes"])] and line.endswith("failing")
    assert (f"failed at notification {bad}, 2 attempt(s)" in shown.output
            and "RuntimeError: the writer cannot take processor BREAKS" in shown.output)

    writer.fix()  # the fixed writer is deployed
    assert catch_up(app) == {name: last for name in MODELS}
    assert {s.name: (s.state, s.error) for s in status(app)} == {
        name: ("current", None) for name in MODELS}
    assert_equals_rebuild(app, database, "disputes")


def test_the_follower_keeps_the_others_going_retries_the_failing_model_and_resumes_it(
        app: Collections, database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    write_casework(app, 2)
    writer = BrokenDisputesWriter(monkeypatch)
    stop = threading.Event()
    follower = threading.Thread(
        target=follow, args=(app, stop),
        kwargs={"page_size": 20, "backoff": lambda: Backoff(first=0.05, longest=0.2)})
    follower.start()
    try:
        wait_until(lambda: min(positions(database, MODELS).values()) == head(database))
        bad = open_breaking_dispute(app, database)
        write_casework(app, 2, seed=3, prefix="M")
        last = head(database)
        others = [n for n in MODELS if n != "disputes"]
        wait_until(lambda: min(positions(database, others).values()) == last)
        wait_until(lambda: status(app, "disputes")[0].attempts >= 3)  # tried again, and again
        (disputes,) = status(app, "disputes")
        assert disputes.state == "failing" and disputes.failed_notification == bad
        assert disputes.position < bad and follower.is_alive()

        writer.fix()  # the cause goes away: the follower takes it up by itself
        wait_until(lambda: positions(database, ["disputes"])["disputes"] == last)
        write_casework(app, 1, seed=4, prefix="N")  # and it follows live again
        wait_until(lambda: min(positions(database, MODELS).values()) == head(database))
        assert status(app, "disputes")[0].state == "current"
    finally:
        stop.set()
        follower.join(timeout=20)
    assert not follower.is_alive()
    assert_equals_rebuild(app, database, "disputes")


class _Silent:
    """A subscription that announces nothing, as the store's does for an event committed
    while it was being set up (it read the log before it listened)."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __iter__(self) -> Any:
        self._stop.wait()
        return iter(())

    def stop(self) -> None:
        self._stop.set()


def test_the_follower_catches_up_what_its_subscription_never_announced(
        app: Collections, database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    write_casework(app, 1)
    ended = threading.Event()
    monkeypatch.setattr(app.recorder, "subscribe", lambda gt=None: _Silent(ended))
    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(app, stop))
    follower.start()
    try:
        wait_until(lambda: min(positions(database, MODELS).values()) == head(database))
        write_casework(app, 1, seed=5, prefix="Q")  # announced to nobody
        last = head(database)
        wait_until(lambda: min(positions(database, MODELS).values()) == last, seconds=10)
    finally:
        stop.set()
        ended.set()
        follower.join(timeout=20)
    assert not follower.is_alive()


# -- a database outage ------------------------------------------------------------------------
@pytest.fixture
def own_server() -> Any:
    """A PostgreSQL of the test's own, which it may stop and start again."""
    folder = Path(tempfile.mkdtemp(prefix="lc-outage-", dir="/tmp"))
    folder.chmod(0o755)  # reachable by the server's own user when the tests run as root
    server = EmbeddedPostgres(folder)
    server.start()
    try:
        server.ensure_database("outage")
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _retrying(write: Callable[[], Any], seconds: float = 60) -> Any:
    """A write once the application's own connections have come back."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return write()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.slow
def test_the_follower_waits_out_a_database_outage_and_resumes_by_itself(
        own_server: EmbeddedPostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(database_url=own_server.url("outage"), data_dir=tmp_path,
                        schema=f"t_{uuid.uuid4().hex[:12]}", pool_size=2,
                        master_key=base64.b64encode(os.urandom(32)).decode())
    database = Database(settings).open()
    database.migrate()
    app = Collections(database)
    stop = threading.Event()
    follower = threading.Thread(
        target=follow, args=(app, stop),
        kwargs={"backoff": lambda: Backoff(first=0.2, longest=1.0)})
    try:
        write_casework(app, 2)
        follower.start()
        wait_until(lambda: min(positions(database, MODELS).values()) == head(database))
        own_server.stop()  # the database goes away ...
        time.sleep(10)
        assert follower.is_alive()  # ... and the projector waits
        assert any("database is unreachable" in r.getMessage() for r in caplog.records)
        own_server.start()
        _retrying(lambda: write_casework(app, 2, seed=5, prefix="After"))
        wait_until(lambda: min(positions(database, MODELS).values()) == head(database))
        assert follower.is_alive()
    finally:
        stop.set()
        follower.join(timeout=20)
        app.close()
        database.close()
    assert not follower.is_alive()
