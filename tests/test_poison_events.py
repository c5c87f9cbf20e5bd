"""Events already in the log with values the commands now refuse (written before they did):
NUL in free text, keys of ~16 KB, dates at the ends of the calendar. Every read model must
take them — caught up, followed live and rebuilt — and the aggregates must still load.

The events are written through the real commands with harmless placeholders, which are then
swapped for the bad values in the pending events before they are saved: the log ends up
holding exactly what an older version let through, whatever the commands check today."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from model_helpers import assert_equals_rebuild, follow_while, head, run_async

from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands import promise_commands as pr
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.projections import select
from ledger_collect.projections.engine import catch_up, rebuild
from ledger_collect.projections.worklist.strategy_versions import active_strategies
from ledger_collect.storage.database import Database

TODAY = date(2026, 11, 23)
BY = {"actor": "erp", "business_date": TODAY}
MODELS = [cls.name for cls in select()]

#: The longest key a read model stores as it is (README: "Read models and bad values").
KEY_CHARS = 500
#: Random, so that PostgreSQL cannot compress it below the btree limit.
HUGE = base64.b64encode(os.urandom(12_000)).decode()
HUGE_TOO = HUGE[:-1] + ("A" if HUGE[-1] != "A" else "B")  # same first 15,999 characters


def swapped(app: Collections, command: Callable[..., Any], *args: Any,
            swap: dict[Any, Any], **kwargs: Any) -> Any:
    """Run ``command`` and save its events with every field value (or list item) equal to a
    key of ``swap`` replaced by its value: an event as an older version stored it."""
    batch = app.batch()
    result = command(batch, *args, **kwargs)
    for aggregate in batch.changed():
        for event in aggregate.pending_events:
            for field in dataclasses.fields(event):
                value = getattr(event, field.name)
                if isinstance(value, (list, tuple)):
                    changed = type(value)(swap.get(v, v) if _hashable(v) else v for v in value)
                    object.__setattr__(event, field.name, changed)
                elif _hashable(value) and value in swap:
                    object.__setattr__(event, field.name, swap[value])
    app.save_batch(batch)
    return result


def _hashable(value: Any) -> bool:
    return isinstance(value, (str, date, int, Decimal))


def write_poison(app: Collections) -> dict[str, Any]:
    """A customer whose events hold every kind of bad value; returns its ids."""
    cid = app.run(rc.register_customer, number="P-1", name="Poison SA", segment="north",
                  credit_limit=Decimal(1000), currency="EUR", risk_class="C",
                  source_id="reg-P-1", **BY).result
    swapped(app, rc.add_customer_note, cid, "n1", "NOTE", swap={"NOTE": "before\x00after"}, **BY)
    swapped(app, rc.add_contact, cid, "CONTACT", name="ANNE", email="a@example.com",
            swap={"CONTACT": HUGE, "ANNE": "Anne\x00Marie"}, **BY)
    swapped(app, rc.add_contact, cid, "CONTACT", name="Anne", swap={"CONTACT": HUGE_TOO}, **BY)
    swapped(app, rc.assign_customer, cid, "SPECIALIST", swap={"SPECIALIST": HUGE}, **BY)
    posted, due = date(2026, 1, 2), date(2026, 2, 3)
    invoice = swapped(app, rc.post_invoice, customer_number="P-1", document_number="P-1-I1",
                      amount=Decimal("200.00"), currency="EUR", posting_date=posted,
                      due_date=due, source_id="inv-P-1-I1",
                      swap={posted: date.min, due: date.max}, **BY)
    early = swapped(app, rc.post_invoice, customer_number="P-1", document_number="P-1-I2",
                    amount=Decimal("300.00"), currency="EUR", posting_date=posted,
                    due_date=due, source_id="inv-P-1-I2", swap={posted: date.min, due: date.min},
                    **BY)
    promised = TODAY + timedelta(days=10)
    promise = swapped(app, pr.record_promise, invoice_id=invoice, amount=Decimal("50.00"),
                      promised_date=promised, tolerance_days=3,
                      swap={promised: date(9999, 12, 30)}, **BY)
    dispute = swapped(app, cw.open_dispute, cid, [early], amount=Decimal("20.00"),
                      reason="price", processor="PROCESSOR", swap={"PROCESSOR": HUGE}, **BY)
    swapped(app, cw.add_dispute_note, dispute, "TEXT", swap={"TEXT": "x\x00y"}, **BY)
    follow_up = TODAY + timedelta(days=5)
    swapped(app, cw.create_resubmission, cid, follow_up_date=follow_up, reason="R",
            invoice_ids=[early], swap={follow_up: date.max, "R": "r\x00"}, **BY)
    swapped(app, cw.create_activity, cid, specialist="SPECIALIST", due_date=follow_up,
            description="D", swap={"SPECIALIST": HUGE, follow_up: date.min, "D": "\x00"}, **BY)
    swapped(app, cw.create_email, cid, to=["to@example.com"], template="reminder",
            swap={"reminder": "dear\x00customer", "to@example.com": "to\x00@example.com"}, **BY)
    swapped(app, cw.record_contact, cid, channel="phone", result="left_message",
            specialist="SPECIALIST", summary="S", swap={"SPECIALIST": HUGE, "S": "\x00\x00"},
            **BY)
    return {"customer": cid, "invoice": invoice, "promise": promise, "dispute": dispute}


def test_every_model_takes_poisoned_events_caught_up_and_rebuilt(app: Collections,
                                                               database: Database) -> None:
    ids = write_poison(app)
    assert catch_up(app) == {name: head(database) for name in MODELS}
    with database.connect() as conn:
        assert conn.execute("SELECT text FROM customer_notes").fetchone()[0] == "beforeafter"
        contacts = sorted(r[0] for r in conn.execute("SELECT contact_id FROM contact_persons"))
        assert len(contacts) == 2 and contacts[0] != contacts[1]  # clipped, still distinct
        assert all(len(c) == KEY_CHARS and c.startswith(HUGE[:400]) for c in contacts)
        assert conn.execute("SELECT promised_date FROM promises WHERE id = %s",
                            (ids["promise"],)).fetchone()[0] == date(9999, 12, 30)
        assert conn.execute("SELECT due_date FROM open_items ORDER BY due_date").fetchall() \
            == [(date.min,), (date.max,)]
        assert conn.execute("SELECT template FROM collection_emails").fetchone()[0] \
            == "dearcustomer"
        assert conn.execute("SELECT count(*) FROM timeline WHERE description LIKE '%note%'"
                            " OR personal LIKE 'before%'").fetchone()[0] >= 1
        assert conn.execute("SELECT count(*) FROM projection_failures").fetchone()[0] == 0
    rebuild(app)  # from zero, in rebuild-sized pages read ahead
    for name in MODELS:
        assert_equals_rebuild(app, database, name)


def test_a_follower_takes_poisoned_events_live(app: Collections, database: Database) -> None:
    catch_up(app)
    follow_while(app, database, MODELS, lambda: write_poison(app), page_size=3)
    with database.connect() as conn:
        assert conn.execute("SELECT count(*) FROM projection_failures").fetchone()[0] == 0


def test_a_promise_stored_for_the_end_of_the_calendar_loads_and_takes_commands(
        app: Collections) -> None:
    ids = write_poison(app)
    promise = app.repository.get(ids["promise"])
    assert isinstance(promise, PromiseToPay)
    assert promise.window_end == date.max  # 9999-12-30 + 3 days' grace: the calendar's end
    app.run(rc.apply_payment, source_id="pay-P-1", customer_number="P-1",
            allocations=[("P-1-I1", Decimal("20.00"))], unapplied=None, currency="EUR",
            payment_date=TODAY, **BY)
    app.run(pr.withdraw_promise, ids["promise"], reason="the customer called", **BY)
    app.run(pr.record_promise, invoice_id=ids["invoice"], amount=Decimal("10.00"),
            promised_date=TODAY + timedelta(days=7), tolerance_days=3, **BY)
    catch_up(app)


def test_the_worklist_writer_keeps_rankings_of_the_calendars_ends(app: Collections,
                                                                  database: Database) -> None:
    catch_up(app, "worklist")
    key = run_async(database, active_strategies).key
    with database.connect() as conn:  # as the worklist query stored them for those days
        for day in ("-infinity", "infinity", "0001-01-01", "9999-12-31"):
            conn.execute("INSERT INTO worklist_snapshots (day, strategies) VALUES (%s, %s)",
                         (day, key))
    write_poison(app)
    assert catch_up(app, "worklist") == {"worklist": head(database)}
    with database.connect() as conn:
        ranked = conn.execute("SELECT DISTINCT s.day::text FROM worklist_scores r JOIN"
                              " worklist_snapshots s ON s.id = r.snapshot ORDER BY 1").fetchall()
    # overdue by 9999-12-31; on 0001-01-01 its activity stored for that day is due
    assert ranked == [("-infinity",), ("0001-01-01",), ("9999-12-31",), ("infinity",)]
