"""The morning worklist generation end to end: a segment's customers ranked by its strategy,
spread over the team present (own, substitute, dealt, unplaced), recorded as the segment's
``DailyWorklist`` version and read back as the specialists' lists; idempotent on the same
basis; a new version for an absence or a strategy published the same day; segments without a
team or with nobody present; the lists against a rebuild; the size of a version's events."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from model_helpers import head, run_async
from test_worklist_day_rankings import invoke
from test_worklist_model import RISK_FIRST, TODAY, Book
from test_worklist_rebuild import model_rows

from ledger_collect.commands.application import Collections
from ledger_collect.commands.daily_worklist_commands import SegmentRanking
from ledger_collect.commands.daily_worklist_commands import generate_worklists as command
from ledger_collect.commands.team_commands import join_team, record_absence
from ledger_collect.config import Settings
from ledger_collect.domain.base import ValidationError
from ledger_collect.domain.daily_worklist import PART_SIZE, DailyWorklist, Ranked
from ledger_collect.jobs.worklists import generate_worklists
from ledger_collect.projections.engine import build, catch_up
from ledger_collect.projections.worklist import ranked_pages as ranking
from ledger_collect.projections.worklist.generated_lists import KEEP_DAYS, lists_of_day
from ledger_collect.projections.worklist.strategy_versions import active_strategies, publish
from ledger_collect.storage.database import Database

SUE = {"actor": "sue", "business_date": TODAY}


def portfolio(app: Collections) -> Book:
    """North: alice's A-BIG (score 95) and A-SMALL (0), bob's B (10), chloe's C (10), dan's D
    (dan is in no team, 10), and six unassigned: U1 70, U2 40, U4 30, U3 20, U5 10, U6 0.
    South (no team): sam's S and the unassigned S-U."""
    book = Book(app)
    for number, amount, days, risk, who in (
            ("A-BIG", "12000.00", 100, "D", "alice"), ("A-SMALL", "50.00", 2, "A", "alice"),
            ("B", "1500.00", 10, "A", "bob"), ("C", "1400.00", 10, "A", "chloe"),
            ("D", "1300.00", 10, "A", "dan"),
            ("U1", "12000.00", 40, "D", None), ("U2", "11000.00", 5, "A", None),
            ("U3", "2000.00", 40, "A", None), ("U4", "10.00", 40, "D", None),
            ("U5", "1000.00", 5, "A", None), ("U6", "10.00", 5, "A", None)):
        book.customer(number, risk=risk, specialist=who)
        book.invoice(number, amount, due_ago=days)
    for number, who in (("S", "sam"), ("S-U", None)):
        book.customer(number, segment="south", specialist=who)
        book.invoice(number, "100.00", due_ago=3)
    for member in ("alice", "bob", "chloe"):
        app.run(join_team, "north", member, **SUE)
    return book


def lists(app: Collections, database: Database, specialist: str | None,
          **kwargs: Any) -> list[tuple[Any, ...]]:
    catch_up(app, "worklist")

    async def go(pool: Any) -> ranking.Page:
        return await ranking.worklist(pool, await active_strategies(pool), specialist=specialist,
                                      as_of=TODAY, processed="include", limit=100, **kwargs)

    page = run_async(database, go)
    return [(e.number, e.ranked[0], e.assignment, e.owner) for e in page.entries]


def test_the_morning_lists_are_spread_over_the_team(app: Collections,
                                                    database: Database) -> None:
    portfolio(app)
    app.run(record_absence, "north", "chloe", first_day=TODAY, last_day=TODAY,
            substitute="bob", **SUE)
    catch_up(app, "worklist")
    counts = generate_worklists(app, business_date=TODAY)
    assert counts == {"segments": 2, "generated": 2, "unchanged": 0, "customers": 13,
                      "own": 4, "substitute": 1, "unassigned": 6, "owner_away": 1,
                      "unplaced": 1, "unstaffed": 1}
    # present: alice and bob. Unassigned dealt serpentine in score order: U1 alice, U2 bob,
    # U4 bob, U3 alice, U5 alice, U6 bob (scores 100 and 70 each); dan's D (not in the team)
    # then goes to the one with fewer of them first: a tie, so alice.
    assert lists(app, database, "alice") == [
        ("A-BIG", 95, "own", "alice"), ("U1", 70, "unassigned", None),
        ("U3", 20, "unassigned", None), ("D", 10, "owner_away", "dan"),
        ("U5", 10, "unassigned", None), ("A-SMALL", 0, "own", "alice")]
    assert lists(app, database, "bob") == [
        ("U2", 40, "unassigned", None), ("U4", 30, "unassigned", None),
        ("B", 10, "own", "bob"), ("C", 10, "substitute", "chloe"),
        ("U6", 0, "unassigned", None)]
    assert lists(app, database, "chloe") == []
    # south has no team: sam keeps his customer, the unassigned one is placed with nobody
    assert lists(app, database, "sam") == [("S", 0, "own", "sam")]
    assert lists(app, database, None) == [("S-U", 0, "unplaced", None)]
    # the same day ranked with an explicit strategy is ranked as it is read
    assert [n for n, *_ in lists(app, database, None, generated=False)] == [
        "U1", "U2", "U4", "U3", "U5", "S-U", "U6"]
    found = {row.segment: row for row in run_async(database, lists_of_day, TODAY)}
    assert (found["north"].version, found["north"].present, found["north"].absent,
            found["north"].substitutes) == (1, ["alice", "bob"], ["chloe"], ["bob"])
    assert (found["south"].team, found["south"].own, found["south"].unplaced) == (False, 1, 1)


def test_the_same_basis_records_nothing_a_changed_one_a_new_version(
        app: Collections, database: Database) -> None:
    book = portfolio(app)
    catch_up(app, "worklist")
    generate_worklists(app, business_date=TODAY)
    before = head(database)
    book.invoice("U6", "9000.00", due_ago=95)  # facts change during the day: not a new basis
    catch_up(app, "worklist")
    again = generate_worklists(app, business_date=TODAY)
    assert (again["generated"], again["unchanged"]) == (0, 2)
    assert head(database) == before + 1  # the invoice only
    assert ("U6", 0, "unassigned", None) in lists(app, database, "alice")  # the morning's list
    forced = generate_worklists(app, business_date=TODAY, force=True)
    assert (forced["generated"], forced["unchanged"]) == (1, 1)  # north's list differs
    assert generate_worklists(app, business_date=TODAY, force=True)["generated"] == 0
    # alice called in sick: her customers are shared between bob and chloe
    app.run(record_absence, "north", "alice", first_day=TODAY, last_day=TODAY + timedelta(1),
            **SUE)
    assert generate_worklists(app, business_date=TODAY)["generated"] == 1
    assert [(n, kind) for n, _, kind, _ in lists(app, database, "chloe")][:2] == [
        ("A-BIG", "owner_away"), ("U6", "unassigned")]
    # a strategy published for north the same day: north's list again, south's unchanged
    with database.connect() as conn:
        publish(conn, code="north", segment="north", definition=RISK_FIRST, actor="sue")
    catch_up(app, "worklist")
    assert generate_worklists(app, business_date=TODAY)["generated"] == 1
    north = app.repository.get(DailyWorklist.create_id("north", TODAY))
    assert (north.number, north.basis.strategy_code, north.basis.present) == (
        4, "north", ("bob", "chloe"))
    catch_up(app, "worklist")
    live = model_rows(database)
    scratch = f"{database.schema}_gen"
    try:
        build(app, "worklist", scratch, page_size=7)
        assert model_rows(database, scratch) == live
    finally:
        with database.connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {scratch} CASCADE")
    assert len(live["daily_worklist_entries"]) == 13


def test_nobody_present_leaves_the_list_unplaced_and_the_run_says_so(
        app: Collections, database: Database) -> None:
    portfolio(app)
    for member in ("alice", "bob", "chloe"):
        app.run(record_absence, "north", member, first_day=TODAY, last_day=TODAY, **SUE)
    catch_up(app, "worklist")
    counts = generate_worklists(app, business_date=TODAY)
    assert (counts["unplaced"], counts["unstaffed"], counts["own"]) == (12, 2, 1)
    assert [n for n, *_ in lists(app, database, None)][:3] == ["A-BIG", "U1", "U2"]
    assert lists(app, database, "alice") == []


@pytest.mark.store("memory")
def test_a_version_is_recorded_in_parts_of_bounded_size(app: Collections) -> None:
    size = 2 * PART_SIZE + 1
    ranked = [Ranked(uuid.uuid4(), None if n % 3 else f"spec{n % 7:02d}", 1000 - n // 10,
                     f"C{n:06d}", Decimal("123456.78"), TODAY - timedelta(days=n % 400))
              for n in range(size)]
    app.run(command, [SegmentRanking("north", "default", 1, ranked)], day=TODAY, **SUE)
    events = list(app.events.get(DailyWorklist.create_id("north", TODAY)))
    parts = [e for e in events if type(e) is DailyWorklist.Listed]
    assert [len(e.customer_ids) for e in parts] == [PART_SIZE, PART_SIZE, 1]
    largest = max(len(orjson.dumps({k: v for k, v in vars(e).items()
                                    if isinstance(v, list | str | int)})) for e in parts)
    assert largest < 200_000, largest
    with pytest.raises(ValidationError, match="is history"):
        app.run(command, [], day=TODAY - timedelta(1), **SUE)
    app.run(command, [], day=TODAY + timedelta(31), **SUE)
    with pytest.raises(ValidationError, match="more than 31 days ahead"):
        app.run(command, [], day=TODAY + timedelta(32), **SUE)


def test_worklist_generate_from_the_command_line(settings: Settings, app: Collections,
                                                 database: Database) -> None:
    portfolio(app)
    catch_up(app, "worklist")
    first = invoke(settings, "worklist", "generate")
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[0].startswith(
        "segments: 2, generated: 2, unchanged: 0, customers: 13,")
    assert "placed with nobody" in first.output  # south's unassigned customer
    again = invoke(settings, "worklist", "generate")
    assert "generated: 0, unchanged: 2" in again.output
    past = invoke(settings, "worklist", "generate", "--date", "2001-01-01")
    assert past.exit_code == 1 and "is history" in past.output


def test_lists_of_days_long_past_are_dropped_and_their_day_read_as_ranked(
        app: Collections, database: Database) -> None:
    portfolio(app)
    catch_up(app, "worklist")
    generate_worklists(app, business_date=TODAY)
    later = TODAY + timedelta(KEEP_DAYS)
    generate_worklists(app, business_date=later)
    catch_up(app, "worklist")
    assert [row.day for row in run_async(database, lists_of_day, TODAY)] == [TODAY] * 2
    generate_worklists(app, business_date=later + timedelta(1))
    catch_up(app, "worklist")
    assert run_async(database, lists_of_day, TODAY) == []
    assert [kind for *_, kind, _ in lists(app, database, "alice")] == [None] * 2  # ranked
