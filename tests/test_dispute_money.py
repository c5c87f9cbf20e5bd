"""Disputes follow the money on their invoices: a case over invoices D-500 (500.00) and D-300
(300.00) disputes all 800.00 of them. What the ERP applies to those invoices — payments, credit
memos, clearings, write-offs, through a command or through the import — settles the case as far
as the invoices have less open than it disputes, and the case's trail records it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from model_helpers import rows
from test_feed import run
from test_worklist_model import listed

from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    close_dispute,
    open_dispute,
    resolve_dispute,
    start_dispute_processing,
)
from ledger_collect.commands.receivable_commands import (
    apply_credit_memo,
    apply_payment,
    assign_customer,
    clear_invoice,
    post_invoice,
    register_customer,
    write_off_invoice,
)
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.invoice import Invoice
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database

D500, D300 = Invoice.create_id("D-500"), Invoice.create_id("D-300")
OPENED = date(2026, 11, 2)


def given(app: Collections, amount: str = "800.00") -> UUID:
    customer = app.run(register_customer, number="C1", name="Disputer", segment="north",
                       credit_limit=Decimal(9000), currency="EUR",
                       risk_class="B", source_id="md-C1", actor="erp",
                       business_date=date(2026, 9, 1)).result
    app.run(assign_customer, customer, "alice", actor="sue", business_date=date(2026, 9, 1))
    for number, value in (("D-500", "500.00"), ("D-300", "300.00")):
        app.run(post_invoice, customer_number="C1", document_number=number, amount=Decimal(value),
                currency="EUR", posting_date=date(2026, 9, 1),
                due_date=date(2026, 10, 1), source_id=f"inv-{number}", actor="erp",
                business_date=date(2026, 9, 1))
    return app.run(open_dispute, customer, [D500, D300], amount=Decimal(amount), reason="quality",
                   processor="bob", actor="alice", business_date=OPENED).result


def amounts(app: Collections, dispute_id: UUID) -> tuple[Decimal, ...]:
    case: DisputeCase = app.repository.get(dispute_id)
    return (case.original_amount, case.still_disputed, case.paid, case.credited,
            case.written_off)


def settled_events(app: Collections, dispute_id: UUID) -> list[Any]:
    return [e for e in app.repository.event_store.get(dispute_id)
            if isinstance(e, DisputeCase.SettledOnInvoice)]


def open_of(app: Collections, *invoices: UUID) -> Decimal:
    return sum((app.repository.get(i).open_amount for i in invoices), Decimal("0.00"))


def test_payments_credit_memos_clearings_and_write_offs_settle_the_dispute(
        app: Collections, database: Database) -> None:
    dispute = given(app)
    assert amounts(app, dispute) == (Decimal("800.00"), Decimal("800.00"), 0, 0, 0)
    app.run(apply_payment, source_id="pay-1", customer_number="C1",
            allocations=[("D-500", Decimal("100.00"))], unapplied=None,
            currency="EUR", payment_date=date(2026, 11, 5), actor="erp",
            business_date=date(2026, 11, 6))
    assert amounts(app, dispute) == (Decimal("800.00"), Decimal("700.00"), Decimal("100.00"),
                                     0, 0)
    app.run(apply_credit_memo, source_id="cm-1", customer_number="C1", invoice_number="D-500",
            amount=Decimal("50.00"), currency="EUR",
            document_date=date(2026, 11, 7), actor="erp",
            business_date=date(2026, 11, 7))
    assert amounts(app, dispute) == (Decimal("800.00"), Decimal("650.00"), Decimal("100.00"),
                                     Decimal("50.00"), 0)
    assert open_of(app, D500, D300) == Decimal("650.00")
    trail = settled_events(app, dispute)
    assert [(e.invoice_id, e.source_id, e.paid, e.credited, e.actor, e.business_date)
            for e in trail] == [
        (D500, "pay-1", Decimal("100.00"), 0, "erp", date(2026, 11, 5)),
        (D500, "cm-1", 0, Decimal("50.00"), "erp", date(2026, 11, 7))]

    catch_up(app)
    case = rows(database, "disputes")["disputes"]
    assert len(case) == 1
    item = {row[0]: row for row in rows(database, "open_items")["open_items"]}
    entry = listed(app, database)["C1"]
    assert entry.facts.disputed_amount == Decimal("650.00")  # the worklist agrees
    with database.connect() as conn:
        still, paid, credited = conn.execute(
            "SELECT still_disputed, paid, credited FROM disputes").fetchone()
        disputed = dict(conn.execute("SELECT id, disputed_amount FROM open_items").fetchall())
    assert (still, paid, credited) == (Decimal("650.00"), Decimal("100.00"), Decimal("50.00"))
    assert disputed == {D500: Decimal("350.00"), D300: Decimal("300.00")}
    assert item  # the open items model holds both invoices

    app.run(clear_invoice, source_id="clr-1", invoice_number="D-300", actor="erp",
            business_date=date(2026, 11, 10))
    assert amounts(app, dispute)[1:3] == (Decimal("350.00"), Decimal("400.00"))
    app.run(write_off_invoice, source_id="wo-1", invoice_number="D-500", reason="lost",
            actor="erp", business_date=date(2026, 11, 11))
    assert amounts(app, dispute) == (Decimal("800.00"), Decimal("0.00"), Decimal("400.00"),
                                     Decimal("50.00"), Decimal("350.00"))


def test_money_on_the_undisputed_part_leaves_the_dispute_as_it_is(app: Collections) -> None:
    dispute = given(app, "200.00")  # 200.00 of the 800.00 disputed
    app.run(apply_payment, source_id="pay-1", customer_number="C1",
            allocations=[("D-500", Decimal("500.00")), ("D-300", Decimal("100.00"))],
            unapplied=None, currency="EUR", payment_date=date(2026, 11, 5),
            actor="erp", business_date=date(2026, 11, 5))
    assert amounts(app, dispute)[1] == Decimal("200.00")  # 200.00 still open on D-300
    app.run(apply_payment, source_id="pay-2", customer_number="C1",
            allocations=[("D-300", Decimal("50.01"))], unapplied=None,
            currency="EUR", payment_date=date(2026, 11, 6), actor="erp",
            business_date=date(2026, 11, 6))
    assert amounts(app, dispute)[1:3] == (Decimal("149.99"), Decimal("50.01"))


@pytest.mark.parametrize("closed_by", ["resolved", "closed"])
def test_a_resolved_dispute_no_longer_follows_the_money(app: Collections,
                                                         closed_by: str) -> None:
    dispute = given(app)
    app.run(start_dispute_processing, dispute, actor="bob", business_date=OPENED)
    app.run(resolve_dispute, dispute, "rejected", actor="bob", business_date=OPENED)
    if closed_by == "closed":
        app.run(close_dispute, dispute, actor="bob", business_date=OPENED)
    app.run(clear_invoice, source_id="clr-1", invoice_number="D-300", actor="erp",
            business_date=date(2026, 11, 10))
    assert settled_events(app, dispute) == []


def test_the_import_settles_the_dispute_as_the_commands_do(app: Collections) -> None:
    dispute = given(app)
    result = run(app, "".join(line + "\n" for line in (
        '{"kind": "payment", "source_id": "P1", "customer": "C1", "amount": "100.00", '
        '"currency": "EUR", "date": "2026-11-05", '
        '"allocations": [{"invoice": "D-500", "amount": "100.00"}]}',
        '{"kind": "credit_memo", "source_id": "CM1", "customer": "C1", "invoice": "D-500", '
        '"amount": "50.00", "currency": "EUR", "date": "2026-11-07"}',
        '{"kind": "clearing", "source_id": "CL1", "invoice": "D-300", "date": "2026-11-10"}',
    )))
    assert (result.applied, result.rejected) == (3, [])
    assert amounts(app, dispute) == (Decimal("800.00"), Decimal("350.00"), Decimal("400.00"),
                                     Decimal("50.00"), 0)
    assert [e.source_id for e in settled_events(app, dispute)] == ["P1", "CM1", "CL1"]
