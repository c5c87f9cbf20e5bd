from datetime import date
from decimal import Decimal

from ledger_collect.commands.receivable_commands import (
    add_contact,
    apply_payment,
    post_invoice,
    register_customer,
)
from ledger_collect.domain.invoice import Invoice

D = date(2026, 11, 2)


def test_customer_and_invoice_round_trip(app):
    cid = app.run(register_customer, number="C1", name="Acme", segment="S1",
                  credit_limit=Decimal(5000),
                  currency="eur", risk_class="B", source_id="cust-C1", actor="erp",
                  business_date=D).result
    app.run(add_contact, cid, "k1", name="Jeanne Martin", email="jm@acme.fr", phone="+33 1 23",
            actor="alice", business_date=D)
    app.run(post_invoice, customer_number="C1", document_number="INV1", amount=Decimal("100.00"),
            currency="EUR", posting_date=date(2026, 9, 1), due_date=date(2026, 10, 1),
            source_id="inv-INV1", actor="erp", business_date=D)
    app.run(apply_payment, source_id="pay-1", customer_number="C1",
            allocations=[("INV1", Decimal(40))],
            unapplied=None, currency="EUR", payment_date=D, actor="erp", business_date=D)
    invoice = app.repository.get(Invoice.create_id("INV1"))
    assert invoice.open_amount == Decimal("60.00")
    customer = app.repository.get(cid)
    assert customer.contacts["k1"]["email"] == "jm@acme.fr"
