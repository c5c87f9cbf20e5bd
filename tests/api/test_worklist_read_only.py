"""Queries never write. The worklist for any day a specialist may ask for — today before the
projector ranked it, a past day, a day ahead, the first and last days a date may be, with an
older strategy version — answers without changing a row, on connections that refuse to write,
and the projector goes on afterwards and ranks its business date itself. A strategy published
or activated through the API is ranked by the projector as soon as the change commits, without
waiting for its next round of upkeep and without any query."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from model_helpers import head
from psycopg import sql
from test_worklist_day_rankings import stored, two
from test_worklist_model import Book, ago

from api.helpers import TODAY, Api
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import record_contact
from ledger_collect.domain.customer import Customer
from ledger_collect.projections import follower
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.live import follow
from ledger_collect.projections.worklist.strategy_versions import active_strategy_set
from ledger_collect.storage.database import Database

WORKLIST = """query ($date: Date, $code: String, $version: Int) {
  worklist(date: $date, includeProcessed: true, strategyCode: $code, strategyVersion: $version) {
  asOf totalCount nodes { number score daysOverdue amountToCollect explanation { points } } }
  collectionStrategies { code version } }"""
PUBLISH = """mutation ($input: PublishCollectionStrategyInput!) {
  publishCollectionStrategy(input: $input) { __typename } }"""
ACTIVATE = """mutation ($code: String!, $version: Int!) {
  activateCollectionStrategy(input: {code: $code, version: $version}) { __typename } }"""
__all__ = ["two"]  # the fixture (alice's BIG and SMALL), used by name

#: Small debts first: BIG (12,000.00 overdue) goes below SMALL (50.00).
SMALL_FIRST = [{"name": "small first", "kind": "overdue_amount", "moreThan": "100.00",
                "points": -10}]


def every_row(database: Database) -> dict[str, tuple[Any, ...]]:
    """Each table of the schema: its row count and a digest of its rows."""
    with database.connect() as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        return {table: conn.execute(sql.SQL(
            "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
            " FROM {} AS t").format(sql.Identifier(table))).fetchone() for table in tables}


def test_worklists_of_any_day_change_no_row(api: Api, database: Database,
                                            two: Book) -> None:
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
    older = api.data(WORKLIST, {"code": "default", "version": 1}, user="alice")["worklist"]
    assert [n["number"] for n in older["nodes"]] == ["BIG", "SMALL"]
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
        api: Api, app: Collections, database: Database, two: Book) -> None:
    for day in ("0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31", str(ago(30)), None):
        api.post(WORKLIST, {"date": day}, user="alice")
    app.run(record_contact, Customer.create_id("SMALL"), channel="phone", result="no_answer",
            actor="alice", business_date=TODAY)
    two.invoice("BIG", "10.00", due_ago=1)
    assert catch_up(app, "worklist") == {"worklist": head(database)}
    with database.connect() as conn:
        assert conn.execute("SELECT count(*) FROM worklist_snapshots").fetchone() == (0,)
        active = active_strategy_set(conn).key
    stop = threading.Event()
    projector = threading.Thread(target=follow, args=(app, stop, ["worklist"]))
    projector.start()
    try:
        ranked_by_projector(database, [(date.today(), active, 2)])  # its own business date
    finally:
        stop.set()
        projector.join(timeout=10)
    assert not projector.is_alive()
    page = api.data(WORKLIST, {}, user="alice")["worklist"]
    assert [n["number"] for n in page["nodes"]] == ["BIG", "SMALL"]


def test_a_strategy_published_or_activated_is_ranked_by_the_projector_at_once(
        api: Api, app: Collections, database: Database, two: Book,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(follower, "UPKEEP_SECONDS", 3600.0)  # one round only, at start
    today = date.today()  # the projector's business date
    default = '[["","default",1]]'
    stop = threading.Event()
    projector = threading.Thread(target=follow, args=(app, stop, ["worklist"]))
    projector.start()
    try:
        ranked_by_projector(database, [(today, default, 2)])
        assert api.data(PUBLISH, {"input": {"code": "north", "segment": "north",
                                            "rules": SMALL_FIRST}}, user="sue") == {
            "publishCollectionStrategy": {"__typename": "StrategyPublished"}}
        north_1 = '[["","default",1],["north","north",1]]'
        ranked_by_projector(database, [(today, north_1, 2)])
        page = api.data(WORKLIST, {"date": str(today)}, user="alice")["worklist"]
        assert [n["number"] for n in page["nodes"]] == ["SMALL", "BIG"]
        assert api.data(PUBLISH, {"input": {"code": "north", "segment": "north",
                                            "rules": SMALL_FIRST[:1], "activate": False}},
                        user="sue")["publishCollectionStrategy"]["__typename"] == (
            "StrategyPublished")
        assert api.data(ACTIVATE, {"code": "north", "version": 2}, user="sue") == {
            "activateCollectionStrategy": {"__typename": "StrategyActivated"}}
        ranked_by_projector(database, [(today, '[["","default",1],["north","north",2]]', 2)])
        assert api.data(ACTIVATE, {"code": "north", "version": 1}, user="sue")[
            "activateCollectionStrategy"]["__typename"] == "StrategyActivated"
        ranked_by_projector(database, [(today, north_1, 2)])
    finally:
        stop.set()
        projector.join(timeout=10)
    assert not projector.is_alive()


def ranked_by_projector(database: Database, expected: list[tuple[date, str, int]]) -> None:
    """Wait, with a bound, for the projector to store exactly these rankings."""
    deadline = time.monotonic() + 30
    while stored(database) != expected:
        assert time.monotonic() < deadline, stored(database)
        time.sleep(0.05)
