"""The status rule the read models follow (``promise.status_after``, ``dispute.status_after``)
is the aggregate's own: replayed event by event, it gives the status the aggregate has after
each event, through every way a promise or a dispute case can go; so does the worklist's
reading of it, which keeps only whether a promise is unconfirmed and a case active. In memory:
the rule is the domain's, no store is involved."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledger_collect.domain import dispute, promise
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.projections.worklist import event_fold

MADE, PROMISED = date(2026, 11, 2), date(2026, 11, 10)
IN_WINDOW, LATE = date(2026, 11, 12), date(2026, 11, 14)  # 3 days' grace: 11-13 the last day
BY = {"actor": "alice"}


def _promise() -> PromiseToPay:
    return PromiseToPay.make(
        customer_id=uuid.uuid4(), invoice_id=uuid.uuid4(), document_number="INV-7",
        currency="EUR", amount=Decimal("100.00"), promised_date=PROMISED, tolerance_days=3,
        instalments=None, level=1, replaces=None, contact_id=None, business_date=MADE, **BY)


def _count(p: PromiseToPay, source: str, amount: str) -> None:
    p.count_payment(source, Decimal(amount), promise.PAYMENT, business_date=IN_WINDOW, **BY)


PROMISE_LIVES: dict[str, Callable[[PromiseToPay], None]] = {
    "paid in full: kept": lambda p: _count(p, "pay-1", "100.00"),
    "paid, reversed, paid again": lambda p: (
        _count(p, "pay-1", "40.00"),
        p.uncount_payment("pay-1", business_date=IN_WINDOW, **BY),
        _count(p, "pay-2", "30.00"), _count(p, "pay-3", "10.00"),
        p.uncount_payment("pay-2", business_date=IN_WINDOW, **BY),
        p.value(LATE, business_date=LATE, **BY)),
    "nothing came: broken": lambda p: p.value(LATE, business_date=LATE, **BY),
    "withdrawn while in process": lambda p: (
        _count(p, "pay-1", "40.00"), p.withdraw("customer retracted", business_date=IN_WINDOW,
                                                **BY)),
    "closed by a new promise": lambda p: p.close(promise.REPLACED, replaced_by=uuid.uuid4(),
                                                 business_date=IN_WINDOW, **BY),
}


@pytest.mark.parametrize("life", PROMISE_LIVES, ids=str)
def test_the_read_models_promise_status_is_the_aggregates_after_every_event(life: str) -> None:
    made = _promise()
    PROMISE_LIVES[life](made)
    events = made.collect_events()
    replayed: Any = None
    paid = Decimal("0.00")
    statuses = []
    for event in events:
        replayed = event.mutate(replayed)
        if isinstance(event, PromiseToPay.PaymentCounted):
            paid += event.amount
        elif isinstance(event, PromiseToPay.PaymentUncounted):
            paid -= event.amount
        statuses.append((type(event).__name__, promise.status_after(event, paid),
                         replayed.status))
        assert event_fold.promise_unconfirmed_after(event) == (
            replayed.status in promise.UNCONFIRMED), type(event).__name__
    assert [(name, ruled) for name, ruled, _ in statuses] == [
        (name, held) for name, _, held in statuses]
    assert len({held for *_, held in statuses}) > 1  # the life went through statuses


def _case() -> DisputeCase:
    invoice = Invoice.post(customer_id=uuid.uuid4(), document_number="INV-8",
                           amount=Decimal("200.00"), currency="EUR", posting_date=MADE,
                           due_date=PROMISED, source_id="inv-8", business_date=MADE, **BY)
    return DisputeCase.open(customer_id=invoice.customer_id, invoices=[invoice],
                            amount=Decimal("50.00"), reason="price", processor="bob",
                            business_date=MADE, **BY)


def test_the_read_models_dispute_status_is_the_aggregates_after_every_event() -> None:
    case = _case()
    case.change_processor("carol", business_date=MADE, **BY)
    case.start_processing(business_date=MADE, **BY)
    case.record_progress(paid=Decimal("10.00"), business_date=MADE, **BY)
    case.add_note("called the buyer", business_date=MADE, **BY)
    case.resolve(dispute.ACCEPTED, credited=Decimal("40.00"), business_date=MADE, **BY)
    case.close(business_date=MADE, **BY)
    replayed: Any = None
    ruled = ""
    active = False  # as the worklist keeps it
    for event in case.collect_events():
        replayed = event.mutate(replayed)
        ruled = dispute.status_after(event, ruled)
        active = event_fold.dispute_active_after(event, active)
        assert ruled == replayed.status, type(event).__name__
        assert (ruled in dispute.ACTIVE) == replayed.is_active == active
    assert ruled == dispute.CLOSED
