"""The amount to collect leaves out what is promised or disputed of an invoice, not the whole
invoice: 200.00 overdue with an open promise of 50.00 leaves 150.00 to collect."""

from __future__ import annotations

from decimal import Decimal

from test_worklist_model import TODAY, Book, ago, listed

from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import open_dispute
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.storage.database import Database

D = Decimal


def test_an_open_promise_leaves_out_only_the_promised_amount(app: Collections,
                                                             database: Database) -> None:
    book = Book(app)
    book.customer("P")
    invoice = book.invoice("P", "200.00", due_ago=10)
    app.run(record_promise, invoice_id=invoice, amount=D("50.00"), promised_date=TODAY,
            actor="alice", business_date=ago(2))
    amounts = listed(app, database)["P"].amounts
    assert (amounts.overdue, amounts.under_promise, amounts.to_collect) == (
        D("200.00"), D("50.00"), D("150.00"))


def test_a_dispute_over_part_of_an_invoice_leaves_out_only_that_part(
        app: Collections, database: Database) -> None:
    book = Book(app)
    customer = book.customer("Q")
    first = book.invoice("Q", "200.00", due_ago=10)
    second = book.invoice("Q", "100.00", due_ago=10)
    app.run(open_dispute, customer, [first, second], amount=D("250.00"), reason="price",
            processor="bob", actor="alice", business_date=ago(2))
    amounts = listed(app, database)["Q"].amounts
    assert (amounts.overdue, amounts.under_dispute, amounts.to_collect) == (
        D("300.00"), D("250.00"), D("50.00"))
    app.run(record_promise, invoice_id=second, amount=D("60.00"), promised_date=TODAY,
            actor="alice", business_date=ago(1))
    amounts = listed(app, database)["Q"].amounts  # 50.00 of the second is disputed
    assert (amounts.under_dispute, amounts.under_promise, amounts.to_collect) == (
        D("250.00"), D("50.00"), D("0.00"))
