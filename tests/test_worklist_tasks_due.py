"""Follow-ups and activities falling due bring their customers onto the list on that day — even
with nothing overdue (the specialist asked to be reminded) — and not before; a task still open
keeps them there, a completed one no longer does. Checked on the lists ranked as they are read
and on the generated list of the day."""

from __future__ import annotations

from datetime import timedelta

from model_helpers import run_async
from test_worklist_model import TODAY, Book, ago, listed

from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    close_activity,
    complete_resubmission,
    create_activity,
    create_resubmission,
    move_resubmission,
    reschedule_activity,
)
from ledger_collect.jobs.worklists import generate_worklists
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.worklist import ranked_pages as ranking
from ledger_collect.projections.worklist.strategy_versions import active_strategies
from ledger_collect.storage.database import Database

ALICE = {"actor": "alice", "business_date": ago(1)}


def on(app: Collections, database: Database, days: int) -> dict[str, int]:
    """Alice's list ``days`` after TODAY: customer number -> follow-ups and tasks due."""
    return {number: entry.tasks_due for number, entry in listed(
        app, database, as_of=TODAY + timedelta(days), processed="include").items()}


def test_a_follow_up_due_brings_its_customer_on_that_day_not_before(
        app: Collections, database: Database) -> None:
    book = Book(app)
    later = book.customer("LATER")  # its invoice is due in 10 days: nothing overdue
    book.invoice("LATER", "500.00", due_ago=-10)
    parts = book.customer("PARTS")
    invoice = book.invoice("PARTS", "700.00", due_ago=-20)
    book.customer("OVERDUE")
    book.invoice("OVERDUE", "100.00", due_ago=5)
    follow_up = app.run(create_resubmission, later, follow_up_date=TODAY + timedelta(2),
                        reason="call to confirm the payment run", **ALICE).result
    app.run(create_resubmission, parts, follow_up_date=TODAY + timedelta(3),
            reason="ask about the delivery", invoice_ids=[invoice], **ALICE)
    assert on(app, database, 0) == {"OVERDUE": 0}
    assert on(app, database, 1) == {"OVERDUE": 0}
    assert on(app, database, 2) == {"OVERDUE": 0, "LATER": 1}
    assert on(app, database, 3) == {"OVERDUE": 0, "LATER": 1, "PARTS": 1}  # still open
    app.run(move_resubmission, follow_up, TODAY + timedelta(5), reason="asked for Friday",
            actor="alice", business_date=TODAY)
    assert set(on(app, database, 2)) == {"OVERDUE"}
    assert on(app, database, 5)["LATER"] == 1
    app.run(complete_resubmission, follow_up, actor="alice", business_date=TODAY)
    assert set(on(app, database, 5)) == {"OVERDUE", "PARTS"}


def test_an_activity_due_brings_its_customer_until_it_is_closed(
        app: Collections, database: Database) -> None:
    book = Book(app)
    quiet = book.customer("QUIET")  # no invoice at all
    book.customer("OTHER", specialist="bob")
    task = app.run(create_activity, quiet, specialist="bob", due_date=TODAY + timedelta(1),
                   description="send the statement", **ALICE).result
    assert on(app, database, 0) == {}
    entry = listed(app, database, as_of=TODAY + timedelta(1))["QUIET"]
    assert (entry.tasks_due, entry.score, entry.amounts.overdue, entry.oldest_due) == (
        1, 0, 0, TODAY + timedelta(1))  # its own list: the customer's specialist's
    assert on(app, database, 4) == {"QUIET": 1}
    app.run(reschedule_activity, task, TODAY + timedelta(3), actor="alice",
            business_date=TODAY)
    assert on(app, database, 2) == {} and on(app, database, 3) == {"QUIET": 1}
    app.run(close_activity, task, note="sent", actor="alice", business_date=TODAY)
    assert on(app, database, 3) == {}


def test_the_generated_list_of_the_day_holds_the_customers_due(
        app: Collections, database: Database) -> None:
    book = Book(app)
    quiet = book.customer("QUIET")
    app.run(create_activity, quiet, specialist="alice", due_date=TODAY + timedelta(1),
            description="call back", **ALICE)
    catch_up(app, "worklist")
    tomorrow = TODAY + timedelta(1)
    assert generate_worklists(app, business_date=TODAY)["customers"] == 0
    assert generate_worklists(app, business_date=tomorrow)["customers"] == 1
    catch_up(app, "worklist")

    async def alice(pool: object) -> list[tuple[str, str | None, int]]:
        page = await ranking.worklist(pool, await active_strategies(pool), specialist="alice",
                                      as_of=tomorrow)
        return [(e.number, e.assignment, e.tasks_due) for e in page.entries]

    assert run_async(database, alice) == [("QUIET", "own", 1)]
