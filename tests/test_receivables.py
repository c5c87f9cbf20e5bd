"""Customers and open items: given events, when a command, then events (or a clear refusal)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import (
    add_contact,
    apply_credit_memo,
    apply_payment,
    assign_customer,
    change_contact,
    clear_invoice,
    post_invoice,
    raise_dunning_level,
    register_customer,
    remove_contact,
    reverse_payment,
    set_default_contact,
    unassign_customer,
    write_off_invoice,
)
from ledger_collect.domain.base import (
    ConflictError,
    CurrencyMismatchError,
    NotFoundError,
    ValidationError,
)
from ledger_collect.domain.customer import Customer, UnknownContactError
from ledger_collect.domain.invoice import Invoice, InvoiceClosedError, OverpaymentError

pytestmark = pytest.mark.store("memory")  # domain scenarios: no database needed

D = date(2026, 11, 2)
ERP = {"actor": "erp", "business_date": D}


def given_customer(app: Collections, number: str = "C1", **extra) -> Customer:
    fields = {"number": number, "name": "Acme", "segment": "EU-1", "credit_limit": Decimal(5000),
                  "currency": "EUR", "risk_class": "B", "source_id": f"cust-{number}"}
    fields.update(extra)
    return app.repository.get(app.run(register_customer, **fields, **ERP).result)


def given_invoice(app: Collections, number: str = "INV1", amount: str = "100.00",
                  customer: str = "C1", currency: str = "EUR") -> Invoice:
    app.run(post_invoice, customer_number=customer, document_number=number, amount=Decimal(amount),
            currency=currency, posting_date=date(2026, 9, 1),
            due_date=date(2026, 10, 1), source_id=f"inv-{number}", **ERP)
    return app.repository.get(Invoice.create_id(number))


def pay(app, source_id, *allocations, unapplied=None, currency="EUR"):
    return app.run(apply_payment, source_id=source_id, customer_number="C1",
                   allocations=[(n, Decimal(a)) for n, a in allocations],
                   unapplied=Decimal(unapplied) if unapplied else None,
                   currency=currency, payment_date=D, **ERP).result


def topics(app, aggregate_id) -> list[str]:
    return [type(e).__name__ for e in app.repository.event_store.get(aggregate_id)]


def test_registering_the_same_customer_twice_records_once(app):
    first = given_customer(app)
    again = given_customer(app)
    assert first.id == again.id == Customer.create_id("C1")
    assert topics(app, first.id) == ["Registered"]


def test_changed_master_data_is_recorded_as_a_change(app):
    given_customer(app)
    given_customer(app, source_id="cust-C1-v2", credit_limit=Decimal(7500), risk_class="D")
    customer = app.repository.get(Customer.create_id("C1"))
    assert (customer.credit_limit, customer.risk_class) == (Decimal("7500.00"), "D")
    assert topics(app, customer.id) == ["Registered", "MasterDataChanged"]


def test_master_data_sent_again_under_a_new_source_id_but_unchanged_records_nothing(app):
    given_customer(app)
    given_customer(app, source_id="cust-C1-resent")
    assert topics(app, Customer.create_id("C1")) == ["Registered"]


def test_a_removed_contact_cannot_come_back_under_its_old_id(app):
    customer = given_customer(app)
    app.run(add_contact, customer.id, "k1", name="Jeanne", actor="alice", business_date=D)
    app.run(remove_contact, customer.id, "k1", actor="alice", business_date=D)
    with pytest.raises(ValidationError, match="contact k1 of customer C1 was removed"):
        app.run(add_contact, customer.id, "k1", name="Jeanne", actor="erp", business_date=D)


def test_branch_points_to_an_existing_head_office(app):
    head = given_customer(app, "HQ")
    branch = given_customer(app, "BR-1", head_office_number="HQ")
    assert branch.head_office_id == head.id
    with pytest.raises(NotFoundError, match="head office customer NOPE"):
        given_customer(app, "BR-2", head_office_number="NOPE")


@pytest.mark.parametrize("field, value, message", [
    ("risk_class", "Z", "risk class 'Z'"),
    ("credit_limit", Decimal("-0.01"), "cannot be negative"),
    ("name", " ", "needs a name"),
    ("currency", "EURO", "three-letter"),
])
def test_invalid_customer_master_data_is_refused(app, field, value, message):
    with pytest.raises(ValidationError, match=message):
        given_customer(app, **{field: value})


def test_assignment_and_contacts(app):
    customer = given_customer(app)
    app.run(assign_customer, customer.id, "alice", actor="supervisor", business_date=D)
    app.run(assign_customer, customer.id, "alice", actor="supervisor", business_date=D)  # no-op
    app.run(add_contact, customer.id, "k1", name="Jeanne", email="j@acme.example", actor="alice",
            business_date=D)
    app.run(add_contact, customer.id, "k2", name="Paul", phone="+33 6", actor="alice",
            business_date=D)
    app.run(set_default_contact, customer.id, "k2", actor="alice", business_date=D)
    app.run(remove_contact, customer.id, "k2", actor="alice", business_date=D)
    with pytest.raises(UnknownContactError, match="no contact k9"):
        app.run(change_contact, customer.id, "k9", name="X", actor="alice", business_date=D)
    with pytest.raises(ValidationError, match="is not an email address"):
        app.run(add_contact, customer.id, "k3", name="Bad", email="bad.example", actor="alice",
                business_date=D)
    app.run(unassign_customer, customer.id, actor="supervisor", business_date=D)
    customer = app.repository.get(customer.id)
    assert customer.specialist is None
    assert list(customer.contacts) == ["k1"] and customer.default_contact_id == "k1"
    assert topics(app, customer.id) == ["Registered", "Assigned", "ContactAdded", "ContactAdded",
                                        "DefaultContactSet", "ContactRemoved", "Unassigned"]


def test_open_amount_is_the_sum_of_its_facts(app):
    given_customer(app)
    given_invoice(app, "INV1", "100.00")
    given_invoice(app, "INV2", "50.00")
    assert pay(app, "PAY1", ("INV1", "40.00"), ("INV2", "50.00"), unapplied="5.00") == 3
    app.run(apply_credit_memo, source_id="CM1", customer_number="C1", invoice_number="INV1",
            amount=Decimal("10.00"), currency="EUR", document_date=D, **ERP)
    app.run(reverse_payment, source_id="REV1", invoice_number="INV1", payment_source_id="PAY1",
            **ERP)
    inv1 = app.repository.get(Invoice.create_id("INV1"))
    assert inv1.open_amount == Decimal("90.00")  # 100 - 40 - 10 + 40
    assert app.repository.get(Invoice.create_id("INV2")).open_amount == Decimal("0.00")
    app.run(clear_invoice, source_id="CLR1", invoice_number="INV1", **ERP)
    inv1 = app.repository.get(Invoice.create_id("INV1"))
    assert (inv1.status, inv1.open_amount, inv1.cleared_amount) == ("cleared", Decimal("0.00"),
                                                                    Decimal("90.00"))
    assert topics(app, inv1.id) == ["Posted", "PaymentApplied", "CreditMemoApplied",
                                    "PaymentReversed", "Cleared"]


def test_facts_seen_again_are_no_ops(app):
    given_customer(app)
    given_invoice(app)
    assert pay(app, "PAY1", ("INV1", "30.00")) == 1
    assert pay(app, "PAY1", ("INV1", "30.00")) == 0
    given_invoice(app)  # same posting again
    assert app.repository.get(Invoice.create_id("INV1")).open_amount == Decimal("70.00")
    with pytest.raises(ValidationError, match="already posted with other data"):
        given_invoice(app, amount="100.01")


def test_payment_edges(app):
    given_customer(app)
    given_invoice(app, "INV1", "100.00")
    given_invoice(app, "INV2", "20.00")
    with pytest.raises(OverpaymentError, match="100.01 EUR exceeds the open amount 100.00"):
        pay(app, "PAY1", ("INV1", "100.01"))
    with pytest.raises(CurrencyMismatchError, match="in USD but invoice INV1 is in EUR"):
        pay(app, "PAY2", ("INV1", "1.00"), currency="USD")
    with pytest.raises(ValidationError, match="greater than zero"):
        pay(app, "PAY3", ("INV1", "0.00"))
    # One bad allocation refuses the whole payment: nothing half-applied.
    with pytest.raises(OverpaymentError):
        pay(app, "PAY4", ("INV1", "10.00"), ("INV2", "20.01"))
    assert topics(app, Invoice.create_id("INV1")) == ["Posted"]
    assert pay(app, "PAY5", ("INV1", "100.00")) == 1  # exactly the open amount
    assert app.repository.get(Invoice.create_id("INV1")).open_amount == Decimal("0.00")


def test_a_bad_unapplied_rest_refuses_the_whole_payment(app):
    given_customer(app, "C-USD", currency="USD")
    given_invoice(app, "INV-EUR", "100.00", customer="C-USD", currency="EUR")
    from ledger_collect.commands.receivable_commands import apply_payment
    batch = app.batch()  # as the importer runs it: many records, one batch
    with pytest.raises(CurrencyMismatchError, match="customer C-USD is kept in USD"):
        apply_payment(batch, source_id="PAY1", customer_number="C-USD",
                      allocations=[("INV-EUR", Decimal("10.00"))], unapplied=Decimal("5.00"),
                      currency="EUR", payment_date=D, **ERP)
    assert batch.changed() == []  # nothing recorded in memory either


def test_closed_invoices_refuse_new_facts(app):
    given_customer(app)
    given_invoice(app, "INV1", "100.00")
    app.run(write_off_invoice, source_id="WO1", invoice_number="INV1", reason="insolvency", **ERP)
    inv = app.repository.get(Invoice.create_id("INV1"))
    assert (inv.status, inv.written_off_amount) == ("written_off", Decimal("100.00"))
    with pytest.raises(InvoiceClosedError, match="INV1 is written off"):
        pay(app, "PAY1", ("INV1", "1.00"))
    with pytest.raises(InvoiceClosedError, match="already written off"):
        app.run(clear_invoice, source_id="CLR1", invoice_number="INV1", **ERP)


def test_dunning_level_rises_only_on_overdue_open_items(app):
    given_customer(app)
    invoice = given_invoice(app)  # due 2026-10-01
    with pytest.raises(ValidationError, match="not overdue on 2026-10-01"):
        app.run(raise_dunning_level, invoice.id, actor="dunning", business_date=date(2026, 10, 1))
    assert app.run(raise_dunning_level, invoice.id, actor="dunning",
                   business_date=date(2026, 10, 2)).result == 1
    assert app.run(raise_dunning_level, invoice.id, actor="dunning",
                   business_date=date(2026, 10, 16)).result == 2


def test_unapplied_payment_and_credit_on_account(app):
    given_customer(app)
    pay(app, "PAY1", unapplied="250.00")
    app.run(apply_credit_memo, source_id="CM9", customer_number="C1", invoice_number=None,
            amount=Decimal("75.50"), currency="EUR", document_date=D, **ERP)
    with pytest.raises(CurrencyMismatchError, match="kept in EUR"):
        pay(app, "PAY2", unapplied="1.00", currency="GBP")
    from ledger_collect.domain.credit import CustomerCredit
    credit = app.repository.get(CustomerCredit.create_id("CM9"))
    assert (credit.kind, credit.amount) == ("credit_memo", Decimal("75.50"))


def test_unknown_ids_are_reported_by_name(app):
    with pytest.raises(NotFoundError, match="customer C404 does not exist"):
        given_invoice(app, customer="C404")
    given_customer(app)
    with pytest.raises(NotFoundError, match="invoice INV404 does not exist"):
        pay(app, "PAY1", ("INV404", "1.00"))


@pytest.mark.store("postgres")  # two applications on one store
def test_concurrent_changes_to_one_invoice_one_wins_the_other_is_told(app, database):
    given_customer(app)
    given_invoice(app, "INV1", "100.00")
    other = Collections(database)
    try:
        mine, theirs = app.batch(), other.batch()
        from ledger_collect.commands.receivable_commands import apply_payment
        for batch, source in ((mine, "PAY-A"), (theirs, "PAY-B")):
            apply_payment(batch, source_id=source, customer_number="C1",
                          allocations=[("INV1", Decimal("60.00"))], unapplied=None,
                          currency="EUR", payment_date=D, **ERP)
        app.save_batch(mine)
        with pytest.raises(ConflictError, match="nothing was saved"):
            other.save_batch(theirs)
    finally:
        other.close()
    invoice = app.repository.get(Invoice.create_id("INV1"))
    assert invoice.payments == {"PAY-A": Decimal("60.00")}
    assert invoice.open_amount == Decimal("40.00")
