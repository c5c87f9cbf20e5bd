"""Queries never write. The worklist for any day a specialist may ask for — today before the
projector ranked it, a past day, a day ahead, the first and last days a date may be — answers
without changing a row, on connections that refuse to write, and the projector goes on
afterwards and ranks its business date itself."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from model_helpers import head
from psycopg import sql
from test_worklist_model import Book, ago

from api.helpers import TODAY, Api
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework import record_contact
from ledger_collect.domain.customer import Customer
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.live import follow
from ledger_collect.storage.database import Database
from ledger_collect.worklist_strategy_store import active_strategy_set

WORKLIST = """query ($date: Date) { worklist(date: $date, includeProcessed: true) {
  asOf totalCount nodes { number score daysOverdue amountToCollect explanation { points } } } }"""


@pytest.fixture
def listed(app: Collections) -> Book:
    """Alice's BIG (12,000.00, 100 days overdue) and SMALL (50.00, 2 days)."""
    book = Book(app)
    for number, amount, days in (("BIG", "12000.00", 100), ("SMALL", "50.00", 2)):
        book.customer(number)
        book.invoice(number, amount, due_ago=days)
    catch_up(app)
    return book


def every_row(database: Database) -> dict[str, tuple[Any, ...]]:
    """Each table of the schema: its row count and a digest of its rows."""
    with database.connect() as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        return {table: conn.execute(sql.SQL(
            "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
            " FROM {} AS t").format(sql.Identifier(table))).fetchone() for table in tables}


def test_worklists_of_any_day_change_no_row(api: Api, database: Database,
                                            listed: Book) -> None:
    before = every_row(database)
    assert "worklist_snapshots" in before
    answers = {day: api.data(WORKLIST, {"date": day}, user="alice")["worklist"] for day in (
        None, str(ago(30)), str(TODAY + timedelta(days=400)), "1900-01-01", "2199-12-31")}
    assert [(n["number"], n["daysOverdue"]) for n in answers[None]["nodes"]] == [
        ("BIG", 100), ("SMALL", 2)]
    assert [n["number"] for n in answers[str(ago(30))]["nodes"]] == ["BIG"]
    assert answers[str(TODAY + timedelta(days=400))]["totalCount"] == 2
    assert (answers["1900-01-01"]["totalCount"], answers["1900-01-01"]["nodes"]) == (0, [])
    last = date(2199, 12, 31)  # the first and last days of the dates accepted
    assert [(n["number"], n["daysOverdue"]) for n in answers[str(last)]["nodes"]] == [
        ("BIG", (last - ago(100)).days), ("SMALL", (last - ago(2)).days)]
    for day in ("0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31"):
        error = api.errors(WORKLIST, {"date": day}, user="alice")[0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["message"] == (f"date {day} is outside the dates accepted, 1900-01-01 to "
                                    f"2199-12-31")
    assert every_row(database) == before


def test_the_api_reads_on_connections_that_refuse_to_write(api: Api) -> None:
    state = api.client.app.state  # type: ignore[attr-defined]
    for pool in (state.pool, state.keyed_pool):
        assert api.client.portal.call(pool.fetchval,
                                      "SHOW default_transaction_read_only") == "on"
        with pytest.raises(asyncpg.exceptions.ReadOnlySQLTransactionError):
            api.client.portal.call(pool.execute, "CREATE TABLE written_by_a_query (x int)")


def test_the_projector_goes_on_after_any_query_and_ranks_its_business_date(
        api: Api, app: Collections, database: Database, listed: Book) -> None:
    for day in ("0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31", str(ago(30)), None):
        api.post(WORKLIST, {"date": day}, user="alice")
    app.run(record_contact, Customer.create_id("SMALL"), channel="phone", result="no_answer",
            actor="alice", business_date=TODAY)
    listed.invoice("BIG", "10.00", due_ago=1)
    assert catch_up(app, "worklist") == {"worklist": head(database)}
    with database.connect() as conn:
        assert conn.execute("SELECT count(*) FROM worklist_snapshots").fetchone() == (0,)
        active = active_strategy_set(conn).key
    stop = threading.Event()
    projector = threading.Thread(target=follow, args=(app, stop, ["worklist"]))
    projector.start()
    try:
        deadline = time.monotonic() + 30
        while stored(database) != [(date.today(), active, 2)]:  # its own business date
            assert time.monotonic() < deadline, stored(database)
            time.sleep(0.05)
    finally:
        stop.set()
        projector.join(timeout=10)
    assert not projector.is_alive()
    page = api.data(WORKLIST, {}, user="alice")["worklist"]
    assert [n["number"] for n in page["nodes"]] == ["BIG", "SMALL"]


def stored(database: Database) -> list[tuple[date, str, int]]:
    with database.connect() as conn:
        return conn.execute(
            "SELECT s.day, s.strategies, count(r.customer_id) FROM worklist_snapshots s"
            " LEFT JOIN worklist_scores r ON r.snapshot = s.id GROUP BY s.id").fetchall()
