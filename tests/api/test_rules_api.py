"""Collections rules as the API applies them: who may pay which invoice, which day a payment
counts on, the amount to collect in the customer overview, personal data in the timeline."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.application import Collections
from ledger_collect.domain.invoice import Invoice
from ledger_collect.projections.runner import catch_up

PAID = "... on PaymentApplied { partsRecorded } ... on Problem { code message }"


def apply_payment(api: Api, **payment: Any) -> dict[str, Any]:
    query = (f"mutation($input: ApplyPaymentInput!) {{ applyPayment(input: $input) "
             f"{{ __typename {PAID} }} }}")
    sent = {"currency": "EUR", "paymentDate": TODAY.isoformat(), **payment}
    return api.data(query, {"input": sent}, user="erp")["applyPayment"]  # type: ignore[no-any-return]


def test_a_customer_pays_only_its_own_invoices(api: Api, app: Collections,
                                               portfolio: Portfolio) -> None:
    refused = apply_payment(api, sourceId="pay-x", customerNumber="C-1",
                            allocations=[{"invoiceNumber": "INV-C-2", "amount": "100.00"}])
    assert refused == {
        "__typename": "RuleBroken", "code": "INVOICE_OF_ANOTHER_CUSTOMER",
        "message": "invoice INV-C-2 belongs to customer C-2, which is neither customer C-1 nor "
                   "one of its branches"}
    assert app.repository.get(portfolio.south_invoice).open_amount == Decimal("1000.00")
    own = apply_payment(api, sourceId="pay-y", customerNumber="C-2",
                        allocations=[{"invoiceNumber": "INV-C-2", "amount": "100.00"}])
    assert own == {"__typename": "PaymentApplied", "partsRecorded": 1}


def test_a_payment_counts_on_its_payment_date_not_the_day_it_was_recorded(
        api: Api, app: Collections, portfolio: Portfolio) -> None:
    made = TODAY - timedelta(days=12)  # 11-11
    promised = date(2026, 11, 12)
    pid = app.record_promise(invoice_id=portfolio.north_invoice, amount=Decimal("100.00"),
                             promised_date=promised, tolerance_days=1, actor="alice",
                             business_date=made)
    # Recorded today (11-23), dated 11-14: after the window (11-12 + 1 day's grace = 11-13).
    paid = apply_payment(api, sourceId="pay-late", customerNumber="C-1",
                         paymentDate="2026-11-14",
                         allocations=[{"invoiceNumber": "INV-C-1", "amount": "100.00"}])
    assert paid == {"__typename": "PaymentApplied", "partsRecorded": 1}
    promise = app.repository.get(pid)
    assert (promise.status, promise.valued_on) == ("broken", date(2026, 11, 14))
    applied = [e for e in app.repository.event_store.get(Invoice.create_id("INV-C-1"))
               if isinstance(e, Invoice.PaymentApplied)]
    assert [e.business_date for e in applied] == [date(2026, 11, 14)]


AMOUNT = """query($id: UUID!, $on: Date) { customerOverview(id: $id) {
    amountToCollect(asOf: $on) } }"""


def overview_amount(api: Api, customer: Any, on: date = TODAY) -> str:
    found = api.data(AMOUNT, {"id": str(customer), "on": on.isoformat()}, user="alice")
    return found["customerOverview"]["amountToCollect"]  # type: ignore[no-any-return]


def test_the_overview_shows_the_amount_to_collect_the_worklist_shows(
        api: Api, app: Collections, portfolio: Portfolio) -> None:
    """INV-C-1: 1000.00 overdue. A promise of 50.00 leaves 950.00 of it to collect; 20.00 paid
    towards the promise leaves 30.00 promised and still 950.00 to collect; a dispute of 100.00
    leaves 850.00."""
    catch_up(app)
    assert overview_amount(api, portfolio.north) == "1000.00"
    app.record_promise(invoice_id=portfolio.north_invoice, amount=Decimal("50.00"),
                       promised_date=TODAY + timedelta(days=5), actor="alice",
                       business_date=TODAY)
    catch_up(app)
    assert overview_amount(api, portfolio.north) == "950.00"
    app.apply_payment(source_id="pay-1", customer_number="C-1",
                      allocations=[("INV-C-1", Decimal("20.00"))], unapplied=None,
                      currency="EUR", payment_date=TODAY, actor="erp", business_date=TODAY)
    app.open_dispute(portfolio.north, [portfolio.north_invoice], amount=Decimal("100.00"),
                     reason="price", processor="bob", actor="alice", business_date=TODAY)
    catch_up(app)
    assert overview_amount(api, portfolio.north) == "850.00"
    worklist = api.data("""{ worklist(specialist: "alice", includeProcessed: true) { nodes {
        number amountToCollect underPromise underDispute overdueAmount } } }""",
                        user="alice")["worklist"]["nodes"]
    assert worklist == [{"number": "C-1", "amountToCollect": "850.00",
                         "underPromise": "30.00", "underDispute": "100.00",
                         "overdueAmount": "980.00"}]
