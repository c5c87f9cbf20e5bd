"""Open items and aging, as a supervisor and the API read them: bucket edges to the day, partial
payments, items leaving when closed, custom buckets, the balance grids, promise and dispute
state per item, credits on account. Every figure is computed by hand in the test."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    open_dispute,
    record_dispute_progress,
    resolve_dispute,
    start_dispute_processing,
)
from ledger_collect.commands.promise_commands import record_promise, withdraw_promise
from ledger_collect.commands.receivable_commands import (
    apply_credit_memo,
    apply_payment,
    clear_invoice,
    post_invoice,
    raise_dunning_level,
    register_customer,
    reverse_payment,
    write_off_invoice,
)
from ledger_collect.projections.aging import DEFAULT_BUCKETS, Bucket, check_buckets
from ledger_collect.projections.aging_report import (
    aged,
    aging,
    oldest_balances,
    top_balances,
)
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.open_items import credits_by_customer, open_items_by_customer
from ledger_collect.storage.database import Database

TODAY = date(2026, 11, 23)
WHO = {"actor": "erp", "business_date": TODAY}
D = Decimal


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


def customer(app: Collections, number: str) -> UUID:
    return app.run(register_customer, number=number, name=f"Customer {number}", segment="SME",
                   credit_limit=D("10000"), currency="EUR", risk_class="B",
                   source_id=f"reg-{number}", **WHO).result


def invoice(app: Collections, number: str, doc: str, amount: str, due: date,
            currency: str = "EUR") -> UUID:
    return app.run(post_invoice, customer_number=number, document_number=doc, amount=D(amount),
                   currency=currency, posting_date=min(due, TODAY) - timedelta(days=30),
                   due_date=due, source_id=f"inv-{doc}", **WHO).result


def pay(app: Collections, number: str, source: str, doc: str, amount: str) -> None:
    app.run(apply_payment, source_id=source, customer_number=number, allocations=[(doc, D(amount))],
            unapplied=None, currency="EUR", payment_date=TODAY, **WHO)


def read(app: Collections, reader: Any, *args: Any, **kwargs: Any) -> Any:
    """Catch the model up, then run an async reader on a fresh asyncpg pool."""
    catch_up(app, "open_items")
    database: Database = app.database

    async def go() -> Any:
        pool = await asyncpg.create_pool(database.url, min_size=1, max_size=2,
                                         server_settings={"search_path": database.schema})
        try:
            return await reader(pool, *args, **kwargs)
        finally:
            await pool.close()
    return asyncio.run(go())


# -- aging ----------------------------------------------------------------------------------
def test_aging_buckets_at_their_edges(app: Collections) -> None:
    c = customer(app, "C1")
    for doc, amount, due in (("D0", "100.00", 0), ("F10", "50.00", 10), ("D1", "200.00", -1),
                             ("D30", "300.00", -30), ("D31", "400.00", -31),
                             ("D60", "500.00", -60), ("D61", "600.00", -61),
                             ("D120", "700.00", -120), ("D121", "800.00", -121)):
        invoice(app, "C1", doc, amount, days(due))
    grid = read(app, aging, TODAY, c)
    assert grid.labels == ("not due", "1-30", "31-60", "61-90", "91-120", "over 120")
    # due today and in 10 days: not due; yesterday and 30 days ago: 1-30; 31 and 60: 31-60 ...
    assert grid.amounts == {"EUR": (D("150.00"), D("500.00"), D("900.00"), D("600.00"),
                                    D("700.00"), D("800.00"))}
    assert grid.items == {"EUR": (2, 2, 2, 1, 1, 1)}
    assert grid.total("EUR") == D("3650.00")
    tomorrow = read(app, aging, days(1), c)  # one day later everything moves on by a day
    assert tomorrow.amounts["EUR"] == (D("50.00"), D("300.00"), D("700.00"), D("1100.00"),
                                       D("0.00"), D("1500.00"))
    # the overview ages the items it read in Python: the same grids, on any day and buckets
    (items,) = read(app, open_items_by_customer, [c], include_closed=True).values()
    assert aged(items, TODAY) == grid and aged(items, days(1)) == tomorrow
    odd = [("due", None, 0), ("a week", 1, 7), ("later", 8, None)]
    for day in (days(-11), days(-10), TODAY, days(8), days(9)):
        assert aged(items, day, odd) == read(app, aging, day, c, buckets=odd), day


def test_payments_and_credit_memos_reduce_the_aged_amount_and_closed_items_leave(
        app: Collections) -> None:
    c = customer(app, "C2")
    invoice(app, "C2", "A", "1000.00", days(-45))
    invoice(app, "C2", "B", "250.00", days(-10))
    invoice(app, "C2", "W", "300.00", days(-200))
    invoice(app, "C2", "P", "80.00", days(-5))
    pay(app, "C2", "pay-A", "A", "400.00")
    assert read(app, aging, TODAY, c).amounts["EUR"][2] == D("600.00")
    app.run(apply_credit_memo, source_id="cm-A", customer_number="C2", invoice_number="A",
            amount=D("100.00"), currency="EUR", document_date=TODAY, **WHO)
    app.run(clear_invoice, source_id="clr-B", invoice_number="B", **WHO)
    app.run(write_off_invoice, source_id="wo-W", invoice_number="W", reason="insolvent", **WHO)
    pay(app, "C2", "pay-P", "P", "80.00")  # paid in full, not yet cleared by the ERP
    grid = read(app, aging, TODAY, c)
    assert grid.amounts["EUR"] == (D("0.00"), D("0.00"), D("500.00"), D("0.00"), D("0.00"),
                                   D("0.00"))
    assert grid.items["EUR"] == (0, 0, 1, 0, 0, 0)
    app.run(reverse_payment, source_id="rev-A", invoice_number="A", payment_source_id="pay-A",
            **WHO)
    assert read(app, aging, TODAY, c).amounts["EUR"][2] == D("900.00")

    (items,) = read(app, open_items_by_customer, [c]).values()
    assert [(i.document_number, i.open_amount, i.paid_amount, i.credited_amount)
            for i in items] == [("A", D("900.00"), D("0.00"), D("100.00"))]
    every = read(app, open_items_by_customer, [c], include_closed=True)[c]
    assert [(i.document_number, i.status, i.open_amount, i.closed_on) for i in every] == [
        ("W", "written_off", D("0.00"), TODAY), ("A", "open", D("900.00"), None),
        ("B", "cleared", D("0.00"), TODAY), ("P", "open", D("0.00"), None)]
    assert every[1].days_overdue(TODAY) == 45 and every[3].days_overdue(days(-10)) == 0
    # aged in Python, written off, cleared and paid items stay out as they do in the database
    assert aged(every, TODAY) == read(app, aging, TODAY, c)
    assert aged(every, TODAY).items == {"EUR": (0, 0, 1, 0, 0, 0)}


def test_custom_buckets_are_used_and_bad_ones_refused(app: Collections) -> None:
    c = customer(app, "C3")
    for doc, amount, due in (("A", "10.00", 0), ("B", "20.00", -15), ("C", "30.00", -16)):
        invoice(app, "C3", doc, amount, days(due))
    buckets = [("current", None, 0), ("1-15", 1, 15), ("16 and more", 16, None)]
    grid = read(app, aging, TODAY, c, buckets=buckets)
    assert grid.labels == ("current", "1-15", "16 and more")
    assert grid.amounts["EUR"] == (D("10.00"), D("20.00"), D("30.00"))
    assert read(app, aging, TODAY, c, buckets=[("all", None, None)]).amounts["EUR"] == (
        D("60.00"),)

    refused = {
        "overlap: day 30 falls in both": [("a", None, 30), ("b", 30, None)],
        "leave a gap: days 31 to 40": [("a", None, 30), ("b", 41, None)],
        "must be open-ended": [("a", None, 30), ("b", 31, 60)],
        "must have no lower bound": [("a", 0, 30), ("b", 31, None)],
        "at least one bucket": [],
        "distinct, non-empty labels": [("a", None, 0), ("a", 1, None)],
        "starts at day 10, after its last day 5": [("a", None, 9), ("b", 10, 5), ("c", 6, None)],
    }
    for message, bad in refused.items():
        with pytest.raises(ValueError, match=message):
            check_buckets(bad)
    with pytest.raises(ValueError, match="overlap"):
        read(app, aging, TODAY, c, buckets=[("a", None, 30), ("b", 30, None)])
    assert check_buckets(DEFAULT_BUCKETS)[5] == Bucket("over 120", 121, None)


def test_portfolio_aging_and_each_customers_grid(app: Collections) -> None:
    one, two, idle = customer(app, "P1"), customer(app, "P2"), customer(app, "P3")
    invoice(app, "P1", "P1-A", "100.00", days(-3))
    invoice(app, "P1", "P1-B", "40.00", days(-95), currency="USD")
    invoice(app, "P2", "P2-A", "250.00", days(-3))
    invoice(app, "P2", "P2-B", "75.00", days(5))
    portfolio = read(app, aging, TODAY)
    assert portfolio.amounts == {
        "EUR": (D("75.00"), D("350.00"), D("0.00"), D("0.00"), D("0.00"), D("0.00")),
        "USD": (D("0.00"), D("0.00"), D("0.00"), D("0.00"), D("40.00"), D("0.00"))}
    items = read(app, open_items_by_customer, [one, two, idle])
    grids = {c: aged(found, TODAY) for c, found in items.items()}
    assert grids[one].amounts["EUR"][1] == D("100.00") and grids[one].total("USD") == D("40.00")
    assert grids[two].amounts == {"EUR": (D("75.00"), D("250.00"), D("0.00"), D("0.00"),
                                          D("0.00"), D("0.00"))}
    assert grids[idle].amounts == {} and grids[idle].total("EUR") == D("0.00")
    assert all(grids[c] == read(app, aging, TODAY, c) for c in (one, two, idle))


# -- the supervisor's grids -------------------------------------------------------------------
def test_top_and_oldest_balances(app: Collections) -> None:
    ids = {n: customer(app, n) for n in ("A", "B", "C", "D", "E")}
    invoice(app, "A", "A-1", "5000.00", days(-10))
    invoice(app, "B", "B-1", "1000.00", days(-200))
    invoice(app, "B", "B-2", "500.00", days(5))
    invoice(app, "C", "C-1", "3000.00", days(-90))
    invoice(app, "D", "D-1", "2000.00", days(20))
    invoice(app, "E", "E-1", "9999.00", days(-1), currency="USD")
    invoice(app, "A", "A-2", "700.00", days(-400))
    app.run(clear_invoice, source_id="clr-A-2", invoice_number="A-2", **WHO)  # closed: not counted

    top = read(app, top_balances, TODAY, 10, "EUR")
    assert [(b.customer_id, b.open_amount, b.overdue_amount, b.items) for b in top] == [
        (ids["A"], D("5000.00"), D("5000.00"), 1), (ids["C"], D("3000.00"), D("3000.00"), 1),
        (ids["D"], D("2000.00"), D("0.00"), 1), (ids["B"], D("1500.00"), D("1000.00"), 2)]
    oldest = read(app, oldest_balances, TODAY, 10, "EUR")
    assert [(b.customer_id, b.days_overdue, b.oldest_due_date) for b in oldest] == [
        (ids["B"], 200, days(-200)), (ids["C"], 90, days(-90)), (ids["A"], 10, days(-10)),
        (ids["D"], 0, days(20))]
    assert [b.customer_id for b in read(app, top_balances, TODAY, 2)] == [ids["E"], ids["A"]]
    assert [b.currency for b in read(app, oldest_balances, TODAY, 1, "USD")] == ["USD"]
    with pytest.raises(ValueError, match="at least 1"):
        read(app, top_balances, TODAY, 0)


def balances(app: Collections, customer_id: UUID) -> list[tuple[Any, ...]]:
    """The writer's balance rows of one customer, after catching up."""
    catch_up(app, "open_items")
    with app.database.connect() as conn:
        return conn.execute("SELECT currency, open_amount, items, oldest_due_date FROM"
                            " customer_balances WHERE customer_id = %s ORDER BY currency",
                            (customer_id,)).fetchall()


def test_balances_follow_each_change_of_the_items(app: Collections) -> None:
    """The per-customer balances the lists rank by, caught up after each fact: paid down, paid
    off (the row goes), paid back by a reversal, a second currency."""
    c = customer(app, "F")
    invoice(app, "F", "F-1", "1200.00", days(-40))
    invoice(app, "F", "F-2", "300.00", days(-5))
    assert balances(app, c) == [("EUR", D("1500.00"), 2, days(-40))]
    pay(app, "F", "pay-F-1", "F-1", "1199.99")
    assert balances(app, c) == [("EUR", D("300.01"), 2, days(-40))]
    pay(app, "F", "pay-F-1b", "F-1", "0.01")
    assert balances(app, c) == [("EUR", D("300.00"), 1, days(-5))]
    app.run(clear_invoice, source_id="clr-F-2", invoice_number="F-2", **WHO)
    assert balances(app, c) == []
    app.run(reverse_payment, source_id="rev-F-1", invoice_number="F-1", payment_source_id="pay-F-1",
            **WHO)
    invoice(app, "F", "F-3", "50.00", days(3), currency="USD")
    assert balances(app, c) == [("EUR", D("1199.99"), 1, days(-40)),
                                ("USD", D("50.00"), 1, days(3))]
    (top,) = read(app, top_balances, TODAY, 5, "EUR")
    assert (top.customer_id, top.open_amount, top.overdue_amount, top.days_overdue) == (
        c, D("1199.99"), D("1199.99"), 40)


# -- promise, dispute and dunning state per item ---------------------------------------------------
def test_promise_state_follows_the_promise(app: Collections) -> None:
    c = customer(app, "PR")
    p = invoice(app, "PR", "PR-1", "500.00", days(-5))
    promise = app.run(record_promise, invoice_id=p, amount=D("300.00"), promised_date=days(7),
                      **WHO).result
    item = read(app, open_items_by_customer, [c])[c][0]
    assert (item.promise_id, item.promise_amount, item.promise_date, item.promise_status,
            item.promise_paid, item.has_open_promise) == (
        promise, D("300.00"), days(7), "open", D("0.00"), True)
    pay(app, "PR", "pay-1", "PR-1", "100.00")
    item = read(app, open_items_by_customer, [c])[c][0]
    assert (item.promise_status, item.promise_paid, item.open_amount) == (
        "in_process", D("100.00"), D("400.00"))
    app.run(withdraw_promise, promise, reason="customer retracted", **WHO)
    item = read(app, open_items_by_customer, [c])[c][0]
    assert (item.promise_id, item.promise_status, item.has_open_promise) == (
        promise, "withdrawn", False)
    second = app.run(record_promise, invoice_id=p, amount=D("400.00"), promised_date=days(3),
                     **WHO).result
    third = app.run(record_promise, invoice_id=p, amount=D("350.00"), promised_date=days(9),
                    **WHO).result
    item = read(app, open_items_by_customer, [c])[c][0]
    assert second != third
    assert (item.promise_id, item.promise_amount, item.promise_status) == (
        third, D("350.00"), "open")  # the replaced one is closed, the item shows the new one


def test_dispute_state_is_spread_over_its_invoices_and_leaves_when_resolved(
        app: Collections) -> None:
    c = customer(app, "DS")
    x = invoice(app, "DS", "X", "100.00", days(-20))
    y = invoice(app, "DS", "Y", "200.00", days(-20))
    z = invoice(app, "DS", "Z", "50.00", days(-40))
    dispute = app.run(open_dispute, c, [x, y], amount=D("250.00"), reason="price", processor="pat",
                      note="prices differ from the offer", **WHO).result

    def state() -> dict[str, tuple[int, Decimal]]:
        return {i.document_number: (i.open_disputes, i.disputed_amount)
                for i in read(app, open_items_by_customer, [c])[c]}

    assert state() == {"X": (1, D("100.00")), "Y": (1, D("150.00")), "Z": (0, D("0.00"))}
    app.run(start_dispute_processing, dispute, **WHO)
    app.run(record_dispute_progress, dispute, credited=D("60.00"), **WHO)
    assert state() == {"X": (1, D("100.00")), "Y": (1, D("90.00")), "Z": (0, D("0.00"))}
    pay(app, "DS", "pay-X", "X", "30.00")  # the disputed part cannot exceed what is open
    assert state()["X"] == (1, D("70.00"))
    app.run(resolve_dispute, dispute, "rejected", **WHO)
    assert state() == {"X": (0, D("0.00")), "Y": (0, D("0.00")), "Z": (0, D("0.00"))}
    items = read(app, open_items_by_customer, [c])[c]
    assert [(i.document_number, i.dispute_ids) for i in items] == [
        ("Z", []), ("X", [dispute]), ("Y", [dispute])]  # earliest due first
    with app.database.connect() as conn:
        row = conn.execute("SELECT status, resolution, original_amount, still_disputed,"
                           " invoice_amounts FROM open_item_disputes WHERE id = %s",
                           (dispute,)).fetchone()
    assert row == ("resolved", "rejected", D("250.00"), D("190.00"),
                   [D("100.00"), D("200.00")])

    app.run(raise_dunning_level, z, **WHO)
    app.run(raise_dunning_level, z, **WHO)
    item = next(i for i in read(app, open_items_by_customer, [c])[c] if i.id == z)
    assert (item.dunning_level, item.last_dunned_on) == (2, TODAY)


def test_credits_on_account(app: Collections) -> None:
    c, other = customer(app, "CR"), customer(app, "CR2")
    app.run(apply_payment, source_id="pay-unapplied", customer_number="CR", allocations=[],
            unapplied=D("12.34"), currency="EUR", payment_date=days(-3),
            actor="erp", business_date=days(-3))
    app.run(apply_credit_memo, source_id="cm-account", customer_number="CR", invoice_number=None,
            amount=D("5.00"), currency="EUR", document_date=days(-1), **WHO)
    credits = read(app, credits_by_customer, [c, other])
    assert [(k.kind, k.source_id, k.amount, k.document_date) for k in credits[c]] == [
        ("unapplied_payment", "pay-unapplied", D("12.34"), days(-3)),
        ("credit_memo", "cm-account", D("5.00"), days(-1))]
    assert credits[other] == []
