"""Which policy keeps a record, until when, and why: a customer, an invoice and a dispute, with
the legal hold that suspends it all."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from test_retention_policies import BY, DAY, _customer, _invoice, _pay

from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands import retention_commands as rt
from ledger_collect.commands.application import Collections
from ledger_collect.compliance.retention_status import status_of
from ledger_collect.domain.customer import Customer
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database


def test_an_invoice_is_kept_until_archived_and_by_law_ten_years_after_it_was_paid(
        app: Collections, database: Database) -> None:
    customer = _customer(app, "C1")
    paid, open_ = _invoice(app, "C1", "P-1"), _invoice(app, "C1", "O-1")
    _pay(app, "C1", "P-1", "100.00", date(2020, 5, 15))
    catch_up(app, "retention_streams")
    status = status_of(app, "invoice", paid, date(2021, 1, 1))
    assert status is not None and status.customer_id == customer and status.held_by is None
    [kept] = status.records
    assert (kept.stream_id, kept.trigger_on, kept.action_on, kept.retained_until) == (
        paid, date(2020, 5, 15), date(2022, 5, 15), date(2030, 5, 15))
    assert kept.why.startswith("cleared on 2020-05-15: archive due 2022-05-15, kept by law "
                               "until 2030-05-15")
    [waiting] = status_of(app, "invoice", open_, date(2021, 1, 1)).records  # type: ignore[union-attr]
    assert waiting.action_on is None and waiting.retained_until is None
    assert waiting.why.startswith("invoice not cleared yet: kept while in use")
    assert status_of(app, "invoice", customer, DAY) is None


def test_a_dispute_shows_its_invoices_and_the_hold_that_keeps_them(
        app: Collections, database: Database) -> None:
    customer = _customer(app, "C1")
    invoice = _invoice(app, "C1", "D-1")
    dispute = app.run(cw.open_dispute, customer, [invoice], amount=Decimal("100.00"),
                      reason="price", processor="bob", **BY).result
    app.run(rt.place_legal_hold, "dispute", dispute, reference="ARB-9", **BY)
    catch_up(app, "retention_streams")
    status = status_of(app, "dispute", dispute, DAY)
    assert status is not None and status.held_by == "ARB-9"
    assert [(r.record_class, r.stream_id, r.held_by) for r in status.records] == [
        ("dispute", dispute, "ARB-9"), ("invoice", invoice, "ARB-9")]
    assert status.records[0].why.startswith("legal hold ARB-9: nothing is purged or erased")
    by_customer = status_of(app, "customer", customer, DAY)
    assert by_customer is not None and by_customer.held_by is None
    assert [(r.record_class, r.records, r.held_by) for r in by_customer.records] == [
        ("customer_personal", 1, None), ("dispute", 1, "ARB-9"), ("invoice", 1, "ARB-9")]
    personal = by_customer.records[0]
    assert (personal.action_on, personal.retained_until) == (date(2023, 3, 2), DAY)
    assert personal.why.startswith("the customer was last active on 2020-03-02: erase due "
                                   "2023-03-02 (policy: erase 3 years after last active")
    assert status_of(app, "customer", Customer.create_id("nobody"), DAY) is None


def test_an_archived_invoice_and_dispute_are_answered_from_the_archive(
        app: Collections, database: Database) -> None:
    from ledger_collect.compliance.archiver import archive_run

    customer = _customer(app, "C1")
    paid, kept = _invoice(app, "C1", "P-1"), _invoice(app, "C1", "K-1")
    dispute = app.run(cw.open_dispute, customer, [kept], amount=Decimal("100.00"),
                      reason="price", processor="bob", **BY).result
    closing = {"actor": "bob", "business_date": date(2020, 6, 30)}
    app.run(cw.start_dispute_processing, dispute, **closing)
    app.run(cw.resolve_dispute, dispute, "rejected", **closing)
    app.run(cw.close_dispute, dispute, **closing)
    _pay(app, "C1", "P-1", "100.00", date(2020, 5, 15))
    counts = archive_run(app, business_date=date(2022, 6, 30))
    assert counts["purged_streams"] == 2  # the paid invoice and the closed dispute
    catch_up(app, "retention_streams")
    status = status_of(app, "invoice", paid, date(2023, 1, 1))
    assert status is not None and status.customer_id == customer
    [record] = status.records
    assert (record.stream_id, record.record_class, record.trigger_on, record.action_on,
            record.retained_until) == (paid, "invoice", date(2020, 5, 15), date(2022, 5, 15),
                                       date(2030, 5, 15))
    assert record.why.startswith("archived in segment 1; cleared on 2020-05-15: archive due "
                                 "now, kept by law until 2030-05-15")
    [closed] = status_of(app, "dispute", dispute, date(2023, 1, 1)).records  # type: ignore[union-attr]
    assert (closed.stream_id, closed.trigger_on, closed.retained_until) == (
        dispute, date(2020, 6, 30), date(2030, 6, 30))
    assert closed.why.startswith("archived in segment 1; closed on 2020-06-30")
    assert status_of(app, "dispute", paid, DAY) is None  # an archived invoice is no dispute
    [open_] = status_of(app, "invoice", kept, DAY).records  # type: ignore[union-attr]
    assert open_.why.startswith("invoice not cleared yet")
