"""The worklist's stored rankings, built outside any query: the projector's upkeep ranks its
business date with the active strategies and drops what nobody reads any more, a job (and
``ledger-collect worklist build``) ranks days ahead, and a list ranked in the query — for a day
without a stored ranking — pages exactly as the stored ranking does."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from test_worklist_model import RISK_FIRST, TODAY, Book, ago, rank, read
from test_worklist_rebuild import write_portfolio

from ledger_collect.cli import cli
from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.worklist import Worklist
from ledger_collect.projections.worklist.day_rankings import build_rankings
from ledger_collect.projections.worklist.strategy_rules import Facts
from ledger_collect.projections.worklist.strategy_versions import publish, strategy_set
from ledger_collect.storage.database import Database

DEFAULT_V1 = '[["","default",1]]'


def stored(database: Database) -> list[tuple[date, str, int]]:
    """Each stored ranking: its day, its strategies, how many customers it ranks."""
    with database.connect() as conn:
        return conn.execute(
            "SELECT s.day, s.strategies, count(r.customer_id) FROM worklist_snapshots s"
            " LEFT JOIN worklist_scores r ON r.snapshot = s.id GROUP BY s.id"
            " ORDER BY s.day, s.strategies").fetchall()


def upkeep(database: Database, today: date = TODAY) -> None:
    """The follower's upkeep of the worklist, on ``today``."""
    with database.connect() as conn, conn.transaction():
        Worklist(today=lambda: today).upkeep(conn)


@pytest.fixture
def two(app: Collections) -> Book:
    """Alice's BIG (12,000.00, 100 days overdue) and SMALL (50.00, 2 days)."""
    book = Book(app)
    for number, amount, days in (("BIG", "12000.00", 100), ("SMALL", "50.00", 2)):
        book.customer(number)
        book.invoice(number, amount, due_ago=days)
    catch_up(app, "worklist")
    return book


def test_the_upkeep_ranks_the_business_date_and_drops_what_nobody_reads(
        app: Collections, database: Database, two: Book) -> None:
    tomorrow = TODAY + timedelta(days=1)
    rank(database, ago(1))
    rank(database, tomorrow)  # as a job does, ahead of the day
    upkeep(database)
    assert stored(database) == [(TODAY, DEFAULT_V1, 2), (tomorrow, DEFAULT_V1, 2)]
    upkeep(database)  # nothing to do: the stored rankings stay as they are
    assert stored(database) == [(TODAY, DEFAULT_V1, 2), (tomorrow, DEFAULT_V1, 2)]
    with database.connect() as conn:
        publish(conn, code="north", segment="north", definition=RISK_FIRST, actor="sue")
        new_key = strategy_set(conn, '[["","default",1],["north","north",1]]').key
    upkeep(database)
    assert stored(database) == [(TODAY, new_key, 2)]
    upkeep(database, tomorrow)  # the day turned
    assert stored(database) == [(tomorrow, new_key, 2)]
    with database.connect() as conn:
        conn.execute("UPDATE collection_strategies SET active = false")
    upkeep(database, tomorrow + timedelta(days=1))  # nothing to rank with: nothing done
    assert stored(database) == [(tomorrow, new_key, 2)]


def test_a_job_ranks_today_and_days_ahead_never_a_past_day(
        app: Collections, database: Database, two: Book) -> None:
    ahead = TODAY + timedelta(days=3)
    assert build_rankings(app, [ahead], today=TODAY) == [TODAY, ahead]
    assert build_rankings(app, [ahead], today=TODAY) == []
    assert stored(database) == [(TODAY, DEFAULT_V1, 2), (ahead, DEFAULT_V1, 2)]
    with pytest.raises(ValueError, match="before today"):
        build_rankings(app, [ago(1)], today=TODAY)
    with pytest.raises(ValueError, match="date must be from"):
        build_rankings(app, [date.max], today=TODAY)


def invoke(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env={
        "LEDGER_DATABASE_URL": settings.database_url, "LEDGER_SCHEMA": settings.schema,
        "LEDGER_MASTER_KEY": settings.master_key, "LEDGER_DATA_DIR": str(settings.data_dir),
        "LEDGER_MASTER_KEY_FILE": None})


def test_worklist_build_ranks_from_the_command_line(settings: Settings, database: Database,
                                                    two: Book) -> None:
    today = date.today()
    tomorrow = today + timedelta(days=1)
    first = invoke(settings, "worklist", "build", "--date", tomorrow.isoformat())
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [f"worklist of {today}: ranked",
                                         f"worklist of {tomorrow}: ranked"]
    again = invoke(settings, "worklist", "build")
    assert again.output.splitlines() == [f"worklist of {today}: already ranked"]
    past = invoke(settings, "worklist", "build", "--date", "2001-01-01")
    assert past.exit_code == 1
    assert past.output.startswith("Error: 2001-01-01 is before today")


def test_a_list_ranked_in_the_query_pages_as_the_stored_ranking(
        app: Collections, database: Database) -> None:
    write_portfolio(app, 40, seed=21)
    catch_up(app, "worklist")
    days = (ago(30), TODAY, TODAY + timedelta(days=3))

    def every_page(day: date, specialist: str | None, processed: str) -> list[Any]:
        pages, after = [], None
        while True:
            page = read(database, as_of=day, specialist=specialist, processed=processed,
                        limit=4, after=after)
            pages.append(page)
            if not page.has_next:
                return pages
            after = page.entries[-1].cursor

    lists = [(day, who, processed) for day in days for who in ("alice", "bob", None)
             for processed in ("exclude", "include", "only")]
    computed = {key: every_page(*key) for key in lists}
    for day in days:
        rank(database, day)
    assert {key: every_page(*key) for key in lists} == computed
    assert sum(len(page.entries) for pages in computed.values() for page in pages) > 60
    assert all(len(pages) > 1 for (_, _, processed), pages in computed.items()
               if processed == "include")


def test_broken_promises_are_counted_back_from_the_first_days_a_date_can_hold() -> None:
    facts = Facts(currency="EUR", overdue_amount=0, days_overdue=0,  # type: ignore[arg-type]
                  broken_promise_dates=(date(1, 1, 1), date(1, 1, 3)), dunning_level=0,
                  risk_class="A", open_disputes=0, disputed_amount=0)  # type: ignore[arg-type]
    assert facts.broken_promises(date(1, 1, 2), 90) == 1
    assert facts.broken_promises(date(9999, 12, 31), 90) == 0
