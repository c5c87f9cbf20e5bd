"""Dunning procedures, the default and segments' ones, customers' own, and blocks on customers
and invoices: each change an event, each refusal leaving nothing recorded."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_collect.commands import dunning_commands as dc
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections
from ledger_collect.domain.base import NotFoundError, ValidationError
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dunning_block import NotBlockedError
from ledger_collect.domain.dunning_procedure import (
    SETUP_ID,
    DunningProcedureError,
    DunningSetup,
    ProcedureInUseError,
)
from ledger_collect.domain.invoice import Invoice, InvoiceClosedError

pytestmark = pytest.mark.store("memory")

TODAY = date(2026, 11, 23)
WHO: dict[str, Any] = {"actor": "sue", "business_date": TODAY}
LEVELS = [{"days_overdue": 1, "grace_days": 14}, {"days_overdue": 30, "grace_days": 10,
                                                   "fee": Decimal("5.00")}]


def _customer(app: Collections, number: str = "C-1", segment: str = "north") -> Any:
    cid = app.run(rc.register_customer, number=number, name=f"Customer {number}",
                  segment=segment, credit_limit=Decimal("1000.00"), currency="EUR",
                  risk_class="B", source_id=f"md-{number}", **WHO).result
    iid = app.run(rc.post_invoice, customer_number=number, document_number=f"INV-{number}",
                  amount=Decimal("100.00"), currency="EUR",
                  posting_date=TODAY - timedelta(days=40),
                  due_date=TODAY - timedelta(days=10), source_id=f"inv-{number}", **WHO).result
    return cid, iid


def _setup(app: Collections) -> DunningSetup:
    return app.repository.get(SETUP_ID)  # type: ignore[no-any-return]


def test_procedures_default_and_segments_are_one_record_of_events(app: Collections) -> None:
    assert app.run(dc.save_dunning_procedure, code="standard", levels=LEVELS,
                   minimum_amount="20.00", interest_rate="8", **WHO).result is True
    assert app.run(dc.save_dunning_procedure, code="standard", levels=LEVELS,
                   minimum_amount="20.00", interest_rate="8", **WHO).result is False
    app.run(dc.save_dunning_procedure, code="gentle", levels=LEVELS[:1], **WHO)
    app.run(dc.set_default_dunning_procedure, "standard", **WHO)
    app.run(dc.set_segment_dunning_procedure, "north", "gentle", **WHO)
    setup = _setup(app)
    assert [type(e).__name__ for e in app.repository.event_store.get(SETUP_ID)] == [
        "Started", "ProcedureSaved", "ProcedureSaved", "DefaultSet", "SegmentSet"]
    assert setup.procedure("standard").interest_rate == Decimal(8)
    assert setup.applying(None, "north").code == "gentle"
    assert setup.applying(None, "south").code == "standard"
    assert setup.applying("standard", "north").code == "standard"
    assert setup.applying("removed-since", "north").code == "gentle"
    app.run(dc.set_segment_dunning_procedure, "north", None, **WHO)
    assert _setup(app).applying(None, "north").code == "standard"


def test_a_procedure_in_use_cannot_be_removed(app: Collections) -> None:
    app.run(dc.save_dunning_procedure, code="standard", levels=LEVELS, **WHO)
    app.run(dc.set_default_dunning_procedure, "standard", **WHO)
    app.run(dc.set_segment_dunning_procedure, "north", "standard", **WHO)
    with pytest.raises(ProcedureInUseError, match="the default, segment north"):
        app.run(dc.remove_dunning_procedure, "standard", **WHO)
    app.run(dc.set_default_dunning_procedure, None, **WHO)
    app.run(dc.set_segment_dunning_procedure, "north", None, **WHO)
    app.run(dc.remove_dunning_procedure, "standard", **WHO)
    assert _setup(app).procedures == {}
    with pytest.raises(NotFoundError, match="no dunning procedure 'standard'"):
        app.run(dc.set_default_dunning_procedure, "standard", **WHO)


def test_a_bad_procedure_records_nothing(app: Collections) -> None:
    with pytest.raises(DunningProcedureError):
        app.run(dc.save_dunning_procedure, code="bad", levels=[{"days_overdue": -1,
                                                                "grace_days": 0}], **WHO)
    with pytest.raises(ValidationError):
        app.run(dc.save_dunning_procedure, code="x" * 101, levels=LEVELS, **WHO)
    assert app.repository.event_store.get(SETUP_ID) is not None
    assert list(app.repository.event_store.get(SETUP_ID)) == []


def test_a_customer_follows_its_own_procedure(app: Collections) -> None:
    cid, _ = _customer(app)
    with pytest.raises(NotFoundError):
        app.run(dc.set_customer_dunning_procedure, cid, "vip", **WHO)
    app.run(dc.save_dunning_procedure, code="vip", levels=LEVELS, **WHO)
    app.run(dc.set_customer_dunning_procedure, cid, "vip", **WHO)
    customer: Customer = app.repository.get(cid)
    assert customer.dunning_procedure == "vip"
    assert _setup(app).applying(customer.dunning_procedure, customer.segment).code == "vip"


def test_blocks_on_a_customer_and_an_invoice(app: Collections) -> None:
    cid, iid = _customer(app)
    until = TODAY + timedelta(days=30)
    app.run(dc.block_customer_dunning, cid, reason="insolvency check", until=until, **WHO)
    app.run(dc.block_invoice_dunning, iid, reason="goods returned", **WHO)
    customer: Customer = app.repository.get(cid)
    invoice: Invoice = app.repository.get(iid)
    assert customer.dunning_block is not None and customer.dunning_block.until == until
    assert customer.dunning_block.holds_on(until)
    assert not customer.dunning_block.holds_on(until + timedelta(days=1))
    assert invoice.dunning_block is not None and invoice.dunning_block.reason == "goods returned"
    blocked = app.repository.event_store.get(iid)
    assert [type(e).__name__ for e in blocked][-1] == "DunningBlocked"
    app.run(dc.release_customer_dunning_block, cid, **WHO)
    app.run(dc.release_invoice_dunning_block, iid, **WHO)
    assert app.repository.get(cid).dunning_block is None
    assert app.repository.get(iid).dunning_block is None
    with pytest.raises(NotBlockedError, match="invoice INV-C-1 is not blocked"):
        app.run(dc.release_invoice_dunning_block, iid, **WHO)


def test_a_block_needs_a_reason_and_an_end_not_past(app: Collections) -> None:
    cid, iid = _customer(app)
    with pytest.raises(ValidationError, match="say why"):
        app.run(dc.block_customer_dunning, cid, reason="  ", **WHO)
    with pytest.raises(ValidationError, match="over already"):
        app.run(dc.block_invoice_dunning, iid, reason="x", until=TODAY - timedelta(days=1),
                **WHO)
    app.run(dc.block_invoice_dunning, iid, reason="today only", until=TODAY, **WHO)
    app.run(rc.clear_invoice, source_id="clr-1", invoice_number="INV-C-1", **WHO)
    with pytest.raises(InvoiceClosedError):
        app.run(dc.block_invoice_dunning, iid, reason="too late", **WHO)


def test_block_reasons_are_sealed_with_the_customers_key(app: Collections) -> None:
    cid, iid = _customer(app)
    app.run(dc.block_invoice_dunning, iid, reason="call Mr Martin first", **WHO)
    app.run(dc.block_customer_dunning, cid, reason="Mrs Roux on leave", **WHO)
    app.keyring.erase(cid, "GDPR request")
    assert app.repository.get(iid).dunning_block.reason == "[erased]"
    assert app.repository.get(cid).dunning_block.reason == "[erased]"


def test_the_contact_person_for_dunning(app: Collections) -> None:
    cid, _ = _customer(app)
    assert app.repository.get(cid).dunning_contact() is None
    app.run(rc.add_contact, cid, "a", name="Anne", email="anne@c1.example", **WHO)
    app.run(rc.add_contact, cid, "b", name="Bert", role="Dunning", **WHO)
    assert app.repository.get(cid).dunning_contact() == ("b", None)
    app.run(rc.change_contact, cid, "b", name="Bert", email="ar@c1.example", role="dunning",
            **WHO)
    assert app.repository.get(cid).dunning_contact() == ("b", "ar@c1.example")
    app.run(rc.remove_contact, cid, "b", **WHO)
    assert app.repository.get(cid).dunning_contact() == ("a", "anne@c1.example")
