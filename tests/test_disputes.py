"""Dispute cases: given invoices, when a dispute command, then its events (or a clear refusal)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger_collect.commands import casework_commands as casework
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    add_dispute_note,
    change_dispute_processor,
    close_dispute,
    record_dispute_progress,
    resolve_dispute,
    start_dispute_processing,
)
from ledger_collect.commands.receivable_commands import (
    apply_payment,
    clear_invoice,
    post_invoice,
    register_customer,
)
from ledger_collect.domain.base import (
    ConflictError,
    CurrencyMismatchError,
    NotFoundError,
    ValidationError,
)
from ledger_collect.domain.dispute import (
    DisputeCase,
    DisputeClosedError,
    DisputedAmountError,
    IllegalTransitionError,
    WrongCustomerError,
)
from ledger_collect.domain.invoice import Invoice, InvoiceClosedError

pytestmark = pytest.mark.store("memory")  # domain scenarios: no database needed

D = date(2026, 11, 23)
ERP = {"actor": "erp", "business_date": D}
ALICE = {"actor": "alice", "business_date": D}


def given_customer(app: Collections, number: str = "C1"):
    return app.run(register_customer, number=number, name=f"Customer {number}", segment="EU-1",
                   credit_limit=Decimal(5000), currency="EUR", risk_class="B",
                   source_id=f"cust-{number}", **ERP).result


def given_invoice(app: Collections, number: str, amount: str, customer: str = "C1",
                  currency: str = "EUR"):
    return app.run(post_invoice, customer_number=customer, document_number=number,
                   amount=Decimal(amount), currency=currency,
                   posting_date=date(2026, 9, 1), due_date=date(2026, 10, 1),
                   source_id=f"inv-{number}", **ERP).result


@pytest.fixture
def two_invoices(app):
    """Customer C1 with INV1 (200.00 open) and INV2 (150.00 open): 350.00 open in all."""
    customer_id = given_customer(app)
    return customer_id, [given_invoice(app, "INV1", "200.00"), given_invoice(app, "INV2", "150.00")]


def open_dispute(app, customer_id, invoice_ids, amount="300.00", **extra):
    fields = {"reason": "quality", "processor": "bob"}
    fields.update(extra)
    return app.run(casework.open_dispute, customer_id, invoice_ids, amount=Decimal(amount),
                   **fields, **ALICE).result


def dispute_in(app, two_invoices, status: str):
    dispute_id = open_dispute(app, *two_invoices)
    steps = {"open": [], "in_process": ["start"], "resolved": ["start", "resolve"],
             "closed": ["start", "resolve", "close"]}[status]
    for step in steps:
        if step == "start":
            app.run(start_dispute_processing, dispute_id, **ALICE)
        elif step == "resolve":
            app.run(resolve_dispute, dispute_id, "rejected", **ALICE)
        else:
            app.run(close_dispute, dispute_id, **ALICE)
    return dispute_id


def event_names(app, aggregate_id) -> list[str]:
    return [type(e).__name__ for e in app.repository.event_store.get(aggregate_id)]


# -- opening ----------------------------------------------------------------------------------
def test_a_dispute_over_two_invoices_is_opened_and_linked_to_both(app, two_invoices):
    customer_id, invoice_ids = two_invoices
    dispute_id = open_dispute(app, customer_id, invoice_ids, "300.00", note="damaged pallets")
    dispute = app.repository.get(dispute_id)
    assert (dispute.status, dispute.reason, dispute.processor) == ("open", "quality", "bob")
    assert dispute.original_amount == dispute.still_disputed == Decimal("300.00")
    assert (dispute.credited, dispute.paid, dispute.written_off) == (Decimal("0.00"),) * 3
    assert dispute.invoice_ids == invoice_ids and dispute.currency == "EUR"
    assert dispute.notes == {"opening": "damaged pallets"}
    for invoice_id in invoice_ids:
        assert app.repository.get(invoice_id).dispute_ids == {dispute_id}
        assert event_names(app, invoice_id)[-1] == "DisputeLinked"


def test_the_disputed_amount_may_reach_but_not_pass_the_open_amounts(app, two_invoices):
    customer_id, invoice_ids = two_invoices
    with pytest.raises(DisputedAmountError, match="350.01 EUR exceeds the 350.00 EUR"):
        open_dispute(app, customer_id, invoice_ids, "350.01")
    assert all(app.repository.get(i).dispute_ids == set() for i in invoice_ids)
    dispute_id = open_dispute(app, customer_id, invoice_ids, "350.00")
    assert app.repository.get(dispute_id).still_disputed == Decimal("350.00")


def test_the_limit_is_what_is_still_open_after_payments(app, two_invoices):
    customer_id, invoice_ids = two_invoices
    app.run(apply_payment, source_id="pay-1", customer_number="C1",
            allocations=[("INV1", Decimal("50.00"))], unapplied=None, currency="EUR",
            payment_date=D, **ERP)
    with pytest.raises(DisputedAmountError, match="300.00 EUR still open"):
        open_dispute(app, customer_id, invoice_ids, "300.01")
    assert open_dispute(app, customer_id, invoice_ids, "300.00")


@pytest.mark.parametrize("amount", ["0.00", "-5.00"])
def test_a_dispute_needs_a_positive_amount(app, two_invoices, amount):
    with pytest.raises(ValidationError, match="greater than zero"):
        open_dispute(app, *two_invoices, amount)


def test_an_invoice_of_another_customer_is_refused(app, two_invoices):
    customer_id, invoice_ids = two_invoices
    given_customer(app, "C2")
    foreign = given_invoice(app, "INV9", "500.00", customer="C2")
    with pytest.raises(WrongCustomerError, match="INV9 belongs to another customer"):
        open_dispute(app, customer_id, [invoice_ids[0], foreign], "100.00")
    assert app.repository.get(invoice_ids[0]).dispute_ids == set()


def test_a_closed_invoice_is_refused(app, two_invoices):
    customer_id, invoice_ids = two_invoices
    app.run(clear_invoice, source_id="clr-1", invoice_number="INV2", **ERP)
    with pytest.raises(InvoiceClosedError, match="INV2 is cleared"):
        open_dispute(app, customer_id, invoice_ids, "100.00")


def test_an_empty_list_an_unknown_invoice_and_an_unknown_reason_are_refused(app, two_invoices):
    customer_id, invoice_ids = two_invoices
    with pytest.raises(ValidationError, match="at least one invoice"):
        open_dispute(app, customer_id, [], "100.00")
    with pytest.raises(NotFoundError, match="invoice"):
        open_dispute(app, customer_id, [Invoice.create_id("NOPE")], "100.00")
    with pytest.raises(ValidationError, match="reason 'price too high' is not one of"):
        open_dispute(app, customer_id, invoice_ids, "100.00", reason="price too high")
    with pytest.raises(ValidationError, match="named twice"):
        open_dispute(app, customer_id, [invoice_ids[0], invoice_ids[0]], "100.00")


def test_invoices_in_two_currencies_are_refused(app, two_invoices):
    customer_id, invoice_ids = two_invoices
    usd = given_invoice(app, "INV3", "80.00", currency="USD")
    with pytest.raises(CurrencyMismatchError, match="EUR, USD"):
        open_dispute(app, customer_id, [invoice_ids[0], usd], "100.00")


# -- amounts ----------------------------------------------------------------------------------
def test_accepted_with_credit_payment_and_write_off_leaves_nothing_disputed(app, two_invoices):
    dispute_id = dispute_in(app, two_invoices, "in_process")
    with pytest.raises(DisputedAmountError, match="= 300.01 EUR exceeds the 300.00 EUR"):
        app.run(resolve_dispute, dispute_id, "accepted", credited=Decimal("120.00"),
                paid=Decimal("80.00"), written_off=Decimal("100.01"), **ALICE)
    assert app.repository.get(dispute_id).status == "in_process"
    still = app.run(resolve_dispute, dispute_id, "accepted", credited=Decimal("120.00"),
                    paid=Decimal("80.00"), written_off=Decimal("100.00"), **ALICE).result
    dispute = app.repository.get(dispute_id)
    assert still == dispute.still_disputed == Decimal("0.00")
    assert (dispute.credited, dispute.paid, dispute.written_off) == (
        Decimal("120.00"), Decimal("80.00"), Decimal("100.00"))
    assert (dispute.status, dispute.resolution) == ("resolved", "accepted")


def test_progress_counts_towards_the_resolution(app, two_invoices):
    dispute_id = dispute_in(app, two_invoices, "open")
    assert app.run(record_dispute_progress, dispute_id, paid=Decimal("50.00"),
                   **ALICE).result == Decimal(
        "250.00")
    app.run(start_dispute_processing, dispute_id, **ALICE)
    assert app.run(record_dispute_progress, dispute_id, credited=Decimal("70.00"),
                   **ALICE).result == Decimal("180.00")
    with pytest.raises(DisputedAmountError, match="180.00 EUR still disputed"):
        app.run(resolve_dispute, dispute_id, "written_off", written_off=Decimal("180.01"), **ALICE)
    assert app.run(resolve_dispute, dispute_id, "written_off", written_off=Decimal("180.00"),
                   **ALICE).result == Decimal("0.00")
    dispute = app.repository.get(dispute_id)
    assert (dispute.credited, dispute.paid, dispute.written_off) == (
        Decimal("70.00"), Decimal("50.00"), Decimal("180.00"))
    with pytest.raises(IllegalTransitionError, match="resolved takes no more progress"):
        app.run(record_dispute_progress, dispute_id, paid=Decimal("1.00"), **ALICE)


def test_each_resolution_needs_its_amounts(app, two_invoices):
    dispute_id = dispute_in(app, two_invoices, "in_process")
    with pytest.raises(ValidationError, match="accepted dispute needs the credit memo amount"):
        app.run(resolve_dispute, dispute_id, "accepted", paid=Decimal("300.00"), **ALICE)
    with pytest.raises(ValidationError, match="rejected dispute is neither credited"):
        app.run(resolve_dispute, dispute_id, "rejected", credited=Decimal("10.00"), **ALICE)
    with pytest.raises(ValidationError, match="needs the amount written off"):
        app.run(resolve_dispute, dispute_id, "written_off", **ALICE)
    with pytest.raises(ValidationError, match="cannot be negative"):
        app.run(resolve_dispute, dispute_id, "accepted", credited=Decimal("-1.00"), **ALICE)
    with pytest.raises(ValidationError, match="'withdrawn' is not one of"):
        app.run(resolve_dispute, dispute_id, "withdrawn", **ALICE)
    assert app.run(resolve_dispute, dispute_id, "rejected", paid=Decimal("300.00"),
                   **ALICE).result == Decimal("0.00")


def test_a_rejected_dispute_keeps_its_amount_disputed_until_paid(app, two_invoices):
    dispute_id = dispute_in(app, two_invoices, "resolved")
    dispute = app.repository.get(dispute_id)
    assert (dispute.resolution, dispute.still_disputed) == ("rejected", Decimal("300.00"))


# -- the status machine -----------------------------------------------------------------------
COMMANDS = {
    "start": lambda app, d: app.run(start_dispute_processing, d, **ALICE).result,
    "resolve": lambda app, d: app.run(resolve_dispute, d, "rejected", **ALICE).result,
    "close": lambda app, d: app.run(close_dispute, d, **ALICE).result,
}
ALLOWED = {("open", "start"): "in_process", ("in_process", "resolve"): "resolved",
           ("resolved", "close"): "closed"}
TARGET = {"start": "in process", "resolve": "resolved", "close": "closed"}


@pytest.mark.parametrize("status", ["open", "in_process", "resolved"])
@pytest.mark.parametrize("step", ["start", "resolve", "close"])
def test_every_transition_is_allowed_or_refused_naming_both_statuses(app, two_invoices, status,
                                                                     step):
    dispute_id = dispute_in(app, two_invoices, status)
    if (status, step) in ALLOWED:
        COMMANDS[step](app, dispute_id)
        assert app.repository.get(dispute_id).status == ALLOWED[status, step]
        return
    version = app.repository.get(dispute_id).version
    message = f"that is {status.replace('_', ' ')} cannot become {TARGET[step]}"
    with pytest.raises(IllegalTransitionError, match=message):
        COMMANDS[step](app, dispute_id)
    assert app.repository.get(dispute_id).version == version


@pytest.mark.parametrize("step", ["start", "resolve", "close"])
def test_a_closed_dispute_refuses_every_transition(app, two_invoices, step):
    dispute_id = dispute_in(app, two_invoices, "closed")
    with pytest.raises(DisputeClosedError, match="closed on 2026-11-23"):
        COMMANDS[step](app, dispute_id)


def test_a_closed_dispute_is_read_only(app, two_invoices):
    dispute_id = dispute_in(app, two_invoices, "closed")
    version = app.repository.get(dispute_id).version
    with pytest.raises(DisputeClosedError):
        app.run(add_dispute_note, dispute_id, "customer called again", **ALICE)
    with pytest.raises(DisputeClosedError):
        app.run(record_dispute_progress, dispute_id, paid=Decimal("10.00"), **ALICE)
    with pytest.raises(DisputeClosedError):
        app.run(change_dispute_processor, dispute_id, "carol", **ALICE)
    assert app.repository.get(dispute_id).version == version


def test_an_unknown_dispute_is_reported(app):
    with pytest.raises(NotFoundError, match="dispute .* does not exist"):
        app.run(start_dispute_processing, Invoice.create_id("not-a-dispute"), **ALICE)


# -- the trail --------------------------------------------------------------------------------
def test_the_whole_trail_replays_with_who_when_and_the_customer(app, two_invoices):
    customer_id, invoice_ids = two_invoices
    dispute_id = open_dispute(app, customer_id, invoice_ids)
    app.run(add_dispute_note, dispute_id, "customer sent photos", actor="bob", business_date=D)
    app.run(change_dispute_processor, dispute_id, "carol", actor="sup", business_date=D)
    app.run(start_dispute_processing, dispute_id, actor="carol", business_date=date(2026, 11, 24))
    app.run(record_dispute_progress, dispute_id, credited=Decimal("100.00"), actor="erp",
            business_date=date(2026, 11, 25))
    app.run(resolve_dispute, dispute_id, "accepted", credited=Decimal("50.00"), actor="carol",
            business_date=date(2026, 11, 26))
    app.run(close_dispute, dispute_id, actor="carol", business_date=date(2026, 11, 27))
    trail = list(app.repository.event_store.get(dispute_id))
    assert [type(e).__name__ for e in trail] == [
        "Opened", "NoteAdded", "ProcessorChanged", "ProcessingStarted", "ProgressRecorded",
        "Resolved", "Closed"]
    assert [e.actor for e in trail] == ["alice", "bob", "sup", "carol", "erp", "carol", "carol"]
    assert [e.business_date.day for e in trail] == [23, 23, 23, 24, 25, 26, 27]
    assert {e.customer_id for e in trail} == {customer_id}
    as_of_progress = app.repository.get(dispute_id, version=5)
    assert (as_of_progress.status, as_of_progress.still_disputed) == ("in_process",
                                                                      Decimal("200.00"))
    final = app.repository.get(dispute_id)
    assert (final.status, final.processor, final.still_disputed) == ("closed", "carol",
                                                                     Decimal("150.00"))
    assert list(final.notes.values()) == ["customer sent photos"]


def test_two_notes_at_the_same_moment_one_wins_the_other_gets_a_conflict(app, two_invoices):
    dispute_id = open_dispute(app, *two_invoices)
    first, second = app.batch(), app.batch()
    add_dispute_note(first, dispute_id, "from alice", **ALICE)
    add_dispute_note(second, dispute_id, "from bob", actor="bob", business_date=D)
    app.save_batch(first)
    with pytest.raises(ConflictError, match="reload it and try again"):
        app.save_batch(second)
    assert list(app.repository.get(dispute_id).notes.values()) == ["from alice"]


def test_dispute_case_topics_are_pinned():
    assert DisputeCase.Opened.TOPIC == "ledger_collect.DisputeCase.Opened"
    assert DisputeCase.NoteAdded.PERSONAL == ("text",)
