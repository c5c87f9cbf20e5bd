"""Promises to pay, as scenarios: given facts on an invoice, when a command runs, then exactly
these events are recorded (or a typed error and nothing at all).

Invoice INV-7 of customer C1: 100.00 EUR. Promises are made on 2026-11-02 for 2026-11-10;
the grace is 3 days (the settings' default), so money counts up to 11-13 inclusive and the
promise is valued from 11-14 on.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import AggregateNotFoundError

from ledger_collect.commands.application import Collections
from ledger_collect.commands.promise_commands import (
    record_promise,
    value_promise,
    value_promises,
    withdraw_promise,
)
from ledger_collect.commands.receivable_commands import (
    apply_credit_memo,
    apply_payment,
    clear_invoice,
    post_invoice,
    register_customer,
    reverse_payment,
    write_off_invoice,
)
from ledger_collect.config import Settings
from ledger_collect.domain.base import ConflictError, CurrencyMismatchError, ValidationError
from ledger_collect.domain.invoice import Invoice, InvoiceClosedError
from ledger_collect.domain.promise import (
    InstalmentDateError,
    InstalmentSumError,
    PromiseAmountError,
    PromiseClosedError,
    PromiseDateError,
    PromiseToPay,
)

pytestmark = pytest.mark.store("memory")  # domain scenarios: no database needed

MADE = date(2026, 11, 2)
PROMISED = date(2026, 11, 10)
LAST_DAY = date(2026, 11, 13)  # promised date + 3 days' grace: the window's last day
FIRST_LATE_DAY = date(2026, 11, 14)
INV = Invoice.create_id("INV-7")


# -- given -----------------------------------------------------------------------------------
@pytest.fixture
def invoice_id(app: Collections) -> UUID:
    return given_invoice(app)


def given_invoice(app: Collections) -> UUID:
    app.run(register_customer, number="C1", name="Acme", segment="S1", credit_limit=Decimal(5000),
            currency="EUR", risk_class="B", source_id="cust-C1", actor="erp",
            business_date=date(2026, 9, 1))
    return app.run(post_invoice, customer_number="C1", document_number="INV-7",
                   amount=Decimal("100.00"), currency="EUR",
                   posting_date=date(2026, 9, 1), due_date=date(2026, 10, 1),
                   source_id="inv-INV-7", actor="erp",
                   business_date=date(2026, 9, 1)).result


def pay(app: Collections, source_id: str, amount: str, on: date) -> None:
    app.run(apply_payment, source_id=source_id, customer_number="C1",
            allocations=[("INV-7", Decimal(amount))], unapplied=None, currency="EUR",
            payment_date=on, actor="erp", business_date=on)


def promise(app: Collections, amount: str = "100.00", promised: date = PROMISED,
            on: date = MADE, **more: Any) -> UUID:
    return app.run(record_promise, invoice_id=INV, amount=Decimal(amount), promised_date=promised,
                   actor="alice", business_date=on, **more).result


def value(app: Collections, promise_id: UUID, on: date) -> dict[UUID, str]:
    return app.run(value_promises, [promise_id], as_of=on, actor="valuation",
                   business_date=on).result


def get(app: Collections, promise_id: UUID) -> PromiseToPay:
    return app.repository.get(promise_id)  # type: ignore[no-any-return]


# -- then ------------------------------------------------------------------------------------
def position(app: Collections) -> int:
    return app.recorder.max_notification_id() or 0


def recorded_since(app: Collections, start: int) -> list[tuple[str, Any]]:
    """(``Aggregate.Event``, event) of everything stored after ``start``, in store order."""
    notifications = app.recorder.select_notifications(start + 1, 1000)
    return [(n.topic.removeprefix("ledger_collect."), app.mapper.to_domain_event(n))
            for n in notifications]


def topics(events: list[tuple[str, Any]]) -> list[str]:
    return [topic for topic, _ in events]


def the(events: list[tuple[str, Any]], topic: str) -> Any:
    found = [e for t, e in events if t == topic]
    assert len(found) == 1, f"expected one {topic}, got {topics(events)}"
    return found[0]


# -- recording a promise ---------------------------------------------------------------------
def test_a_promise_is_issued_at_level_1_and_linked_to_its_invoice(app, invoice_id):
    start = position(app)
    pid = promise(app, "80.00")
    events = recorded_since(app, start)
    assert sorted(topics(events)) == ["Invoice.PromiseLinked", "PromiseToPay.Issued"]
    issued = the(events, "PromiseToPay.Issued")
    assert (issued.amount, issued.currency, issued.level) == (Decimal("80.00"), "EUR", 1)
    assert issued.invoice_id == invoice_id
    assert issued.customer_id == app.repository.get(invoice_id).customer_id
    assert (issued.actor, issued.business_date, issued.tolerance_days) == ("alice", MADE, 3)
    p = get(app, pid)
    assert (p.status, p.window_end, p.paid_amount) == ("open", LAST_DAY, Decimal("0.00"))
    assert app.repository.get(invoice_id).open_promise_id == pid


def test_the_promised_amount_may_reach_the_open_amount_but_not_a_cent_more(app, invoice_id):
    pay(app, "pay-1", "40.00", date(2026, 10, 20))  # open amount now 60.00
    start = position(app)
    with pytest.raises(PromiseAmountError) as refused:
        promise(app, "60.01")
    assert str(refused.value) == ("promised 60.01 EUR exceeds the open amount 60.00 EUR of "
                                  "invoice INV-7")
    with pytest.raises(ValidationError):
        promise(app, "0.00")
    assert position(app) == start  # nothing stored
    assert get(app, promise(app, "60.00")).amount == Decimal("60.00")


def test_a_promise_in_another_currency_than_its_invoice_is_refused(app, invoice_id):
    start = position(app)
    with pytest.raises(CurrencyMismatchError) as refused:
        promise(app, "50.00", currency="USD")
    assert str(refused.value) == "the promise is in USD but invoice INV-7 is in EUR"
    assert position(app) == start
    assert get(app, promise(app, "50.00", currency="eur")).currency == "EUR"


def test_no_promise_on_a_cleared_invoice(app, invoice_id):
    app.run(clear_invoice, source_id="clr-1", invoice_number="INV-7", actor="erp",
            business_date=MADE)
    with pytest.raises(InvoiceClosedError, match="invoice INV-7 is cleared"):
        promise(app)


def test_the_promised_date_cannot_be_past_but_may_be_today(app, invoice_id):
    with pytest.raises(PromiseDateError, match="2026-11-01 is already past"):
        promise(app, promised=date(2026, 11, 1))
    assert get(app, promise(app, promised=MADE)).window_end == date(2026, 11, 5)


def test_instalments_must_add_up_to_the_promised_amount_exactly(app, invoice_id):
    start = position(app)
    with pytest.raises(InstalmentSumError) as refused:
        promise(app, instalments=[(date(2026, 11, 5), Decimal("50.00")),
                                  (PROMISED, Decimal("49.99"))])
    assert str(refused.value) == ("the instalments add up to 99.99 EUR but the promise is for "
                                  "100.00 EUR")
    assert position(app) == start
    pid = promise(app, instalments=[(date(2026, 11, 5), Decimal("50.00")),
                                    (PROMISED, Decimal("50.00"))])
    plan = [(i.number, i.due_date, i.amount, i.status) for i in get(app, pid).instalments]
    assert plan == [(1, date(2026, 11, 5), Decimal("50.00"), "open"),
                    (2, PROMISED, Decimal("50.00"), "open")]


def test_instalment_dates_run_in_order_and_end_on_the_promised_date(app, invoice_id):
    with pytest.raises(InstalmentDateError, match="instalment 2 .* must fall after"):
        promise(app, instalments=[(PROMISED, Decimal(50)), (PROMISED, Decimal(50))])
    with pytest.raises(InstalmentDateError, match="must be the same day"):
        promise(app, instalments=[(date(2026, 11, 5), Decimal(50)),
                                  (date(2026, 11, 9), Decimal(50))])
    with pytest.raises(InstalmentDateError, match="instalment 1 falls on 2026-11-01"):
        promise(app, instalments=[(date(2026, 11, 1), Decimal(50)), (PROMISED, Decimal(50))])


def test_grace_days_come_from_the_settings():
    strict = Collections.in_memory(Settings(promise_tolerance_days=0))
    try:
        given_invoice(strict)
        pid = promise(strict)
        assert get(strict, pid).window_end == PROMISED
        assert value(strict, pid, date(2026, 11, 11)) == {pid: "broken"}
    finally:
        strict.close()


# -- one unconfirmed promise per invoice, levels ---------------------------------------------
def test_each_new_promise_closes_the_previous_one_and_counts_one_level_higher(app, invoice_id):
    first = promise(app, "100.00")
    second = promise(app, "90.00", on=date(2026, 11, 3))
    start = position(app)
    third = promise(app, "80.00", on=date(2026, 11, 4))
    events = recorded_since(app, start)
    assert sorted(topics(events)) == ["Invoice.PromiseLinked", "PromiseToPay.Closed",
                                      "PromiseToPay.Issued"]
    closed = the(events, "PromiseToPay.Closed")
    assert (closed.originator_id, closed.reason, closed.replaced_by) == (second, "replaced", third)
    assert [get(app, p).level for p in (first, second, third)] == [1, 2, 3]
    assert [get(app, p).status for p in (first, second, third)] == ["closed", "closed", "open"]
    assert get(app, third).replaces == second
    assert app.repository.get(invoice_id).open_promise_id == third


def test_levels_count_the_earlier_promises_not_kept_withdrawn_and_broken_included(app,
                                                                                  invoice_id):
    first = promise(app)
    app.run(withdraw_promise, first, reason="customer retracted", actor="alice",
            business_date=date(2026, 11, 3))
    second = promise(app, on=date(2026, 11, 3))
    assert get(app, second).level == 2  # withdrawing does not reset the escalation
    # The second's window ends on 11-13; nobody valued it before the next promise on 11-20:
    start = position(app)
    third = promise(app, promised=date(2026, 11, 30), on=date(2026, 11, 20))
    assert get(app, second).status == "broken"  # valued, not replaced
    assert sorted(topics(recorded_since(app, start))) == [
        "Invoice.PromiseLinked", "PromiseToPay.Issued", "PromiseToPay.Valued"]
    assert get(app, third).level == 3  # one withdrawn, one broken before it


def test_a_promise_for_the_rest_after_a_kept_one_stays_at_level_1(app, invoice_id):
    first = promise(app, "40.00")
    pay(app, "pay-1", "40.00", date(2026, 11, 5))
    assert get(app, first).status == "kept"
    second = promise(app, "60.00", on=date(2026, 11, 6))
    assert get(app, second).level == 1
    app.run(withdraw_promise, second, reason="mistake", actor="alice",
            business_date=date(2026, 11, 6))
    assert get(app, promise(app, "60.00", on=date(2026, 11, 6))).level == 2


def test_a_partially_kept_promise_raises_the_next_level(app, invoice_id):
    first = promise(app, "100.00")
    pay(app, "pay-1", "30.00", date(2026, 11, 5))
    assert value(app, first, FIRST_LATE_DAY) == {first: "partially_kept"}
    assert get(app, promise(app, "70.00", promised=date(2026, 11, 30),
                            on=FIRST_LATE_DAY)).level == 2


@pytest.mark.store("postgres")  # two applications on one store
def test_two_specialists_promising_at_once_one_wins_the_other_stores_nothing(database,
                                                                             invoice_id):
    alice, bob = Collections(database), Collections(database)
    try:
        alice_batch, bob_batch = alice.batch(), bob.batch()  # both read the same invoice version
        won = record_promise(alice_batch, invoice_id=INV, amount=Decimal(100),
                             promised_date=PROMISED, actor="alice", business_date=MADE)
        lost = record_promise(bob_batch, invoice_id=INV, amount=Decimal(70),
                              promised_date=date(2026, 11, 20), actor="bob",
                              business_date=MADE)
        alice.save_batch(alice_batch)
        start = position(alice)
        with pytest.raises(ConflictError, match="reload it and try again"):
            bob.save_batch(bob_batch)
        assert position(alice) == start
        with pytest.raises(AggregateNotFoundError):
            bob.repository.get(lost)
        assert bob.repository.get(INV).open_promise_id == won
        retried = promise(bob, "70.00", promised=date(2026, 11, 20))  # after reloading: fine
        assert (get(bob, retried).level, get(bob, won).status) == (2, "closed")
    finally:
        alice.close()
        bob.close()


# -- withdrawal ------------------------------------------------------------------------------
def test_a_specialist_withdraws_an_open_promise_with_a_sealed_reason(app, invoice_id):
    pid = promise(app)
    pay(app, "pay-1", "30.00", date(2026, 11, 5))  # in process: still withdrawable
    start = position(app)
    app.run(withdraw_promise, pid, reason="Mr Dupont says the goods were damaged", actor="alice",
            business_date=date(2026, 11, 6))
    events = recorded_since(app, start)
    assert sorted(topics(events)) == ["Invoice.PromiseUnlinked", "PromiseToPay.Withdrawn"]
    assert the(events, "PromiseToPay.Withdrawn").reason == "Mr Dupont says the goods were damaged"
    p = get(app, pid)
    assert (p.status, p.withdrawal_reason) == ("withdrawn", "Mr Dupont says the goods were damaged")
    assert app.repository.get(invoice_id).open_promise_id is None
    stored = app.recorder.select_events(pid, desc=True, limit=1)[0]  # as the store holds it
    assert stored.topic == "ledger_collect.PromiseToPay.Withdrawn"
    assert b"Dupont" not in bytes(stored.state)
    with pytest.raises(PromiseClosedError, match="is withdrawn; it can no longer be withdrawn"):
        app.run(withdraw_promise, pid, reason="again", actor="alice",
                business_date=date(2026, 11, 7))


def test_a_broken_promise_or_one_past_its_window_cannot_be_withdrawn(app, invoice_id):
    pid = promise(app)
    with pytest.raises(PromiseClosedError, match="ran out on 2026-11-13"):
        app.run(withdraw_promise, pid, reason="too late", actor="alice",
                business_date=FIRST_LATE_DAY)
    value(app, pid, FIRST_LATE_DAY)
    with pytest.raises(PromiseClosedError) as refused:
        app.run(withdraw_promise, pid, reason="too late", actor="alice",
                business_date=FIRST_LATE_DAY)
    assert str(refused.value) == ("the promise of 100.00 EUR for 2026-11-10 on invoice INV-7 is "
                                  "broken; it can no longer be withdrawn")
    with pytest.raises(ValidationError, match="say why"):
        app.run(withdraw_promise, promise(app, on=FIRST_LATE_DAY, promised=date(2026, 11, 30)),
                reason=" ", actor="alice", business_date=FIRST_LATE_DAY)


# -- valuation: the window -------------------------------------------------------------------
def test_valued_only_after_the_last_day_of_grace_and_only_once(app, invoice_id):
    pid = promise(app)
    start = position(app)
    assert value(app, pid, LAST_DAY) == {}
    assert position(app) == start  # 11-13 is still inside the window
    assert value(app, pid, FIRST_LATE_DAY) == {pid: "broken"}
    events = recorded_since(app, start)
    assert sorted(topics(events)) == ["Invoice.PromiseUnlinked", "PromiseToPay.Valued"]
    valued = the(events, "PromiseToPay.Valued")
    assert (valued.status, valued.paid, valued.as_of) == ("broken", Decimal("0.00"),
                                                          FIRST_LATE_DAY)
    after = position(app)
    assert value(app, pid, FIRST_LATE_DAY) == {}
    assert value(app, pid, date(2026, 11, 30)) == {}
    assert position(app) == after  # valuing again records nothing
    with pytest.raises(ValidationError, match="a day still to come"):
        app.run(value_promise, pid, as_of=date(2026, 11, 15), actor="valuation",
                business_date=FIRST_LATE_DAY)


def test_40_of_100_in_the_window_is_partially_kept(app, invoice_id):
    pid = promise(app)
    pay(app, "pay-1", "40.00", date(2026, 11, 5))
    assert (get(app, pid).status, get(app, pid).paid_amount) == ("in_process", Decimal("40.00"))
    assert value(app, pid, FIRST_LATE_DAY) == {pid: "partially_kept"}
    assert get(app, pid).status == "partially_kept"


def test_100_of_100_on_the_last_day_of_grace_is_kept_at_once(app, invoice_id):
    pid = promise(app)
    pay(app, "pay-1", "60.00", date(2026, 11, 4))
    start = position(app)
    pay(app, "pay-2", "40.00", LAST_DAY)
    events = recorded_since(app, start)
    assert topics(events) == ["Invoice.PaymentApplied", "Invoice.PromiseUnlinked",
                              "PromiseToPay.PaymentCounted", "PromiseToPay.Valued"]
    counted = the(events, "PromiseToPay.PaymentCounted")
    assert (counted.source_id, counted.amount, counted.kind, counted.business_date) == (
        "pay-2", Decimal("40.00"), "payment", LAST_DAY)
    assert (the(events, "PromiseToPay.Valued").status, get(app, pid).paid_amount) == (
        "kept", Decimal("100.00"))
    after = position(app)
    assert value(app, pid, FIRST_LATE_DAY) == {}
    assert position(app) == after


def test_money_received_one_day_after_the_window_does_not_count(app, invoice_id):
    pid = promise(app)
    pay(app, "pay-1", "60.00", date(2026, 11, 12))
    start = position(app)
    pay(app, "pay-2", "40.00", FIRST_LATE_DAY)  # the valuation job has not run yet
    events = recorded_since(app, start)
    assert "PromiseToPay.PaymentCounted" not in topics(events)
    valued = the(events, "PromiseToPay.Valued")
    assert (valued.status, valued.paid) == ("partially_kept", Decimal("60.00"))
    assert get(app, pid).paid_amount == Decimal("60.00")


def test_nothing_received_is_broken_and_later_payments_leave_it_broken(app, invoice_id):
    pid = promise(app)
    assert value(app, pid, FIRST_LATE_DAY) == {pid: "broken"}
    start = position(app)
    pay(app, "pay-1", "100.00", date(2026, 11, 15))
    assert topics(recorded_since(app, start)) == ["Invoice.PaymentApplied"]
    assert (get(app, pid).status, get(app, pid).paid_amount) == ("broken", Decimal("0.00"))


# -- money on the invoice --------------------------------------------------------------------
def test_payments_move_the_promise_and_a_reversal_takes_them_out_again(app, invoice_id):
    pid = promise(app)
    pay(app, "pay-1", "40.00", date(2026, 11, 3))
    pay(app, "pay-2", "30.00", date(2026, 11, 4))
    assert (get(app, pid).status, get(app, pid).paid_amount) == ("in_process", Decimal("70.00"))
    start = position(app)
    app.run(reverse_payment, source_id="rev-1", invoice_number="INV-7", payment_source_id="pay-1",
            actor="erp", business_date=date(2026, 11, 6))
    events = recorded_since(app, start)
    assert topics(events) == ["Invoice.PaymentReversed", "PromiseToPay.PaymentUncounted"]
    assert the(events, "PromiseToPay.PaymentUncounted").amount == Decimal("40.00")
    assert (get(app, pid).status, get(app, pid).paid_amount) == ("in_process", Decimal("30.00"))
    app.run(reverse_payment, source_id="rev-2", invoice_number="INV-7", payment_source_id="pay-2",
            actor="erp", business_date=date(2026, 11, 7))
    assert (get(app, pid).status, get(app, pid).paid_amount) == ("open", Decimal("0.00"))
    assert value(app, pid, FIRST_LATE_DAY) == {pid: "broken"}


def test_a_credit_memo_counts_towards_the_promise(app, invoice_id):
    pid = promise(app)
    app.run(apply_credit_memo, source_id="cm-1", customer_number="C1", invoice_number="INV-7",
            amount=Decimal("30.00"), currency="EUR", document_date=MADE,
            actor="erp", business_date=date(2026, 11, 3))
    assert get(app, pid).payments == {"cm-1": (Decimal("30.00"), date(2026, 11, 3))}
    pay(app, "pay-1", "70.00", PROMISED)
    assert get(app, pid).status == "kept"


def test_a_replaced_promise_no_longer_follows_payments(app, invoice_id):
    old = promise(app)
    new = promise(app, "50.00", on=date(2026, 11, 3))
    pay(app, "pay-1", "20.00", date(2026, 11, 4))
    assert (get(app, old).status, get(app, old).paid_amount) == ("closed", Decimal("0.00"))
    assert (get(app, new).status, get(app, new).paid_amount) == ("in_process", Decimal("20.00"))


def test_clearing_the_invoice_closes_its_promise(app, invoice_id):
    pid = promise(app)
    pay(app, "pay-1", "40.00", date(2026, 11, 4))
    start = position(app)
    app.run(clear_invoice, source_id="clr-1", invoice_number="INV-7", actor="erp",
            business_date=date(2026, 11, 5))
    events = recorded_since(app, start)
    assert topics(events) == ["Invoice.Cleared", "Invoice.PromiseUnlinked", "PromiseToPay.Closed"]
    assert the(events, "PromiseToPay.Closed").reason == "invoice cleared"
    p = get(app, pid)
    assert (p.status, p.closed_reason, p.paid_amount) == ("closed", "invoice cleared",
                                                          Decimal("40.00"))
    assert value(app, pid, FIRST_LATE_DAY) == {}


def test_writing_the_invoice_off_closes_its_promise(app, invoice_id):
    pid = promise(app)
    app.run(write_off_invoice, source_id="wo-1", invoice_number="INV-7", reason="insolvent",
            actor="erp", business_date=date(2026, 11, 5))
    assert (get(app, pid).status, get(app, pid).closed_reason) == ("closed", "written off")


def test_clearing_after_the_window_values_the_promise_instead(app, invoice_id):
    pid = promise(app)
    app.run(clear_invoice, source_id="clr-1", invoice_number="INV-7", actor="erp",
            business_date=FIRST_LATE_DAY)
    assert (get(app, pid).status, get(app, pid).closed_reason) == ("broken", None)
    assert app.repository.get(invoice_id).open_promise_id is None


# -- instalments -----------------------------------------------------------------------------
def test_each_instalment_is_valued_on_its_own_date(app, invoice_id):
    # 30 by 11-05 (window to 11-08), 30 by 11-08 (to 11-11), 40 by 11-10 (to 11-13)
    pid = promise(app, instalments=[(date(2026, 11, 5), Decimal("30.00")),
                                    (date(2026, 11, 8), Decimal("30.00")),
                                    (PROMISED, Decimal("40.00"))])
    start = position(app)
    pay(app, "pay-1", "30.00", date(2026, 11, 4))
    events = recorded_since(app, start)
    assert topics(events) == ["Invoice.PaymentApplied", "PromiseToPay.PaymentCounted",
                              "PromiseToPay.InstalmentValued"]
    first = the(events, "PromiseToPay.InstalmentValued")
    assert (first.number, first.status, first.covered) == (1, "kept", Decimal("30.00"))
    pay(app, "pay-2", "10.00", date(2026, 11, 11))  # last day of the 2nd instalment's window
    start = position(app)
    assert value(app, pid, date(2026, 11, 11)) == {}
    assert position(app) == start
    value(app, pid, date(2026, 11, 12))
    second = the(recorded_since(app, start), "PromiseToPay.InstalmentValued")
    assert (second.number, second.status, second.covered) == (2, "partially_kept",
                                                              Decimal("10.00"))
    start = position(app)
    assert value(app, pid, LAST_DAY) == {}
    assert value(app, pid, FIRST_LATE_DAY) == {pid: "partially_kept"}
    events = recorded_since(app, start)
    third = the(events, "PromiseToPay.InstalmentValued")
    assert (third.number, third.status, third.covered) == (3, "broken", Decimal("0.00"))
    assert the(events, "PromiseToPay.Valued").paid == Decimal("40.00")
    statuses = [(i.status, i.covered) for i in get(app, pid).instalments]
    assert statuses == [("kept", Decimal("30.00")), ("partially_kept", Decimal("10.00")),
                        ("broken", Decimal("0.00"))]


def test_money_paid_early_covers_the_next_instalments_in_order(app, invoice_id):
    pid = promise(app, instalments=[(date(2026, 11, 5), Decimal("30.00")),
                                    (date(2026, 11, 8), Decimal("30.00")),
                                    (PROMISED, Decimal("40.00"))])
    pay(app, "pay-1", "60.00", date(2026, 11, 3))
    assert [i.status for i in get(app, pid).instalments] == ["kept", "kept", "open"]
    pay(app, "pay-2", "40.00", date(2026, 11, 9))
    p = get(app, pid)
    assert [i.status for i in p.instalments] == ["kept", "kept", "kept"]
    assert p.status == "kept"


def test_a_missed_instalment_stays_broken_when_the_customer_catches_up(app, invoice_id):
    pid = promise(app, instalments=[(date(2026, 11, 5), Decimal("50.00")),
                                    (PROMISED, Decimal("50.00"))])
    value(app, pid, date(2026, 11, 9))  # first window over (11-08), nothing came
    pay(app, "pay-1", "100.00", PROMISED)
    p = get(app, pid)
    assert [(i.status, i.covered) for i in p.instalments] == [
        ("broken", Decimal("0.00")), ("kept", Decimal("50.00"))]
    assert p.status == "kept"
