"""The integration role's ERP facts over GraphQL: idempotent, answered with the invoice as it
stands, refusals as union members."""

from __future__ import annotations

from datetime import date
from typing import Any

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.commands.application import Collections
from ledger_collect.domain.invoice import Invoice

FACT = "... on InvoiceFact { documentNumber status openAmount dunningLevel recorded }"
PROBLEM = "... on Problem { code message }"


def run(api: Api, field: str, input_type: str, payload: str, variables: dict[str, Any],
        user: str = "erp") -> dict[str, Any]:
    query = (f"mutation($input: {input_type}!) {{ {field}(input: $input) {{ __typename "
             f"{payload} {PROBLEM} }} }}")
    return api.data(query, {"input": variables}, user=user)[field]  # type: ignore[no-any-return]


INVOICE = {"customerNumber": "C-1", "documentNumber": "INV-7", "amount": "600.00",
           "currency": "EUR", "postingDate": "2026-11-01", "dueDate": "2026-11-15",
           "sourceId": "inv-7"}


def post(api: Api, **changes: Any) -> dict[str, Any]:
    return run(api, "postInvoice", "PostInvoiceInput", FACT, {**INVOICE, **changes})


def test_register_customer_and_post_invoice_idempotently(api: Api) -> None:
    registered = run(api, "registerCustomer", "RegisterCustomerInput",
                     "... on CustomerRegistered { customerId }",
                     {"number": "C-1", "name": "Customer 1", "segment": "north",
                      "creditLimit": "5000.00", "currency": "EUR", "riskClass": "B",
                      "sourceId": "md-1"})
    assert registered["__typename"] == "CustomerRegistered"
    first = post(api)
    assert first == {"__typename": "InvoicePosted", "documentNumber": "INV-7", "status": "open",
                     "openAmount": "600.00", "dunningLevel": 0, "recorded": True}
    assert post(api) == {**first, "recorded": False}
    assert post(api, amount="650.00") == {
        "__typename": "RuleBroken", "code": "INVALID",
        "message": "invoice INV-7 was already posted with other data (amount 600.00 EUR, "
                   "due 2026-11-15)"}
    assert post(api, customerNumber="C-404", documentNumber="INV-8") == {
        "__typename": "NotFound", "code": "NOT_FOUND", "message": "customer C-404 does not exist"}
    refused = run(api, "registerCustomer", "RegisterCustomerInput",
                  "... on CustomerRegistered { customerId }",
                  {"number": "C-3", "name": "Customer 3", "segment": "north",
                   "creditLimit": "5000.00", "currency": "EUR", "riskClass": "Z",
                   "sourceId": "md-3"})
    assert refused == {"__typename": "RuleBroken", "code": "INVALID",
                       "message": "risk class 'Z' of customer C-3 is not one of A, B, C, D, E"}


def test_payments_credit_memos_reversal_clearing_and_write_off(
        api: Api, portfolio: Portfolio) -> None:
    paid = run(api, "applyPayment", "ApplyPaymentInput",
               "... on PaymentApplied { partsRecorded }",
               {"sourceId": "pay-1", "customerNumber": "C-1", "currency": "EUR",
                "paymentDate": "2026-11-20", "unapplied": "50.00",
                "allocations": [{"invoiceNumber": "INV-C-1", "amount": "300.00"}]})
    assert paid == {"__typename": "PaymentApplied", "partsRecorded": 2}
    again = run(api, "applyPayment", "ApplyPaymentInput",
                "... on PaymentApplied { partsRecorded }",
                {"sourceId": "pay-1", "customerNumber": "C-1", "currency": "EUR",
                 "paymentDate": "2026-11-20", "unapplied": "50.00",
                 "allocations": [{"invoiceNumber": "INV-C-1", "amount": "300.00"}]})
    assert again == {"__typename": "PaymentApplied", "partsRecorded": 0}
    too_much = run(api, "applyPayment", "ApplyPaymentInput",
                   "... on PaymentApplied { partsRecorded }",
                   {"sourceId": "pay-2", "customerNumber": "C-1", "currency": "EUR",
                    "paymentDate": "2026-11-21",
                    "allocations": [{"invoiceNumber": "INV-C-1", "amount": "700.01"}]})
    assert too_much["__typename"] == "RuleBroken" and too_much["code"] == "OVERPAYMENT"
    memo = run(api, "applyCreditMemo", "ApplyCreditMemoInput",
               "... on CreditMemoApplied { recorded }",
               {"sourceId": "cm-1", "customerNumber": "C-1", "invoiceNumber": "INV-C-1",
                "amount": "100.00", "currency": "EUR", "documentDate": "2026-11-21"})
    assert memo == {"__typename": "CreditMemoApplied", "recorded": True}
    reversed_ = run(api, "reversePayment", "ReversePaymentInput", FACT,
                    {"sourceId": "rev-1", "invoiceNumber": "INV-C-1",
                     "paymentSourceId": "pay-1"})
    assert reversed_ == {"__typename": "PaymentReversed", "documentNumber": "INV-C-1",
                         "status": "open", "openAmount": "900.00", "dunningLevel": 0,
                         "recorded": True}
    dunned = run(api, "raiseDunningLevel", "RaiseDunningLevelInput", FACT,
                 {"invoiceId": str(portfolio.north_invoice)})
    assert (dunned["__typename"], dunned["dunningLevel"], dunned["recorded"]) == (
        "DunningLevelRaised", 1, True)
    cleared = run(api, "clearInvoice", "ClearInvoiceInput", FACT,
                  {"sourceId": "clr-1", "invoiceNumber": "INV-C-1"})
    assert (cleared["__typename"], cleared["status"], cleared["openAmount"]) == (
        "InvoiceCleared", "cleared", "0.00")
    written_off = run(api, "writeOffInvoice", "WriteOffInvoiceInput", FACT,
                      {"sourceId": "wo-1", "invoiceNumber": "INV-C-2", "reason": "insolvent"})
    assert (written_off["status"], written_off["openAmount"], written_off["recorded"]) == (
        "written_off", "0.00", True)
    closed = run(api, "clearInvoice", "ClearInvoiceInput", FACT,
                 {"sourceId": "clr-2", "invoiceNumber": "INV-C-2"})
    assert closed["__typename"] == "RuleBroken" and closed["code"] == "INVOICE_CLOSED"


def test_actor_is_the_token_user_and_business_date_today_unless_given(
        api: Api, portfolio: Portfolio, app: Collections) -> None:
    post(api)
    post(api, documentNumber="INV-8", sourceId="inv-8", businessDate="2026-11-02")
    posted = {number: next(iter(app.events.get(Invoice.create_id(number))))
              for number in ("INV-7", "INV-8")}
    assert (posted["INV-7"].actor, posted["INV-7"].business_date) == ("erp", TODAY)
    assert (posted["INV-8"].actor, posted["INV-8"].business_date) == ("erp", date(2026, 11, 2))
