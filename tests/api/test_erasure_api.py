"""Erasure over HTTP: compliance requests it and reads the log; the restricted data is for
auditors and compliance; specialists are denied; refusals are typed."""

from __future__ import annotations

from decimal import Decimal

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands.application import Collections
from ledger_collect.projections.engine import catch_up

REQUEST = """mutation ($id: UUID!, $basis: String!) {
  requestErasure(input: {customerId: $id, basis: $basis}) {
    __typename ... on ErasureRequested { erasedNow request { customerId status basis
      requestedBy erasedOn restrictedRecords retainedUntil } }
    ... on Problem { code message } } }"""
REQUESTS = "{ erasureRequests { customerId status basis requestedBy } }"
RESTRICTED = """query ($id: UUID!) { restrictedPersonalData(customerId: $id) {
  recordClass field value retainedUntil } }"""
CONTACTS = """query ($id: UUID!) { customer(id: $id) { contacts { name email } } }"""


def test_compliance_erases_and_auditors_read_what_is_kept(api: Api, app: Collections,
                                                          portfolio: Portfolio) -> None:
    app.run(cw.open_dispute, portfolio.north, [portfolio.north_invoice], amount=Decimal(50),
            reason="price", processor="alice", note="Marie disputes the price",
            actor="alice", business_date=TODAY)
    catch_up(app)
    answer = api.data(REQUEST, {"id": str(portfolio.north), "basis": "GDPR Art. 17(1)(a)"},
                      user="carl")["requestErasure"]
    assert answer == {"__typename": "ErasureRequested", "erasedNow": True, "request": {
        "customerId": str(portfolio.north), "status": "completed",
        "basis": "GDPR Art. 17(1)(a)", "requestedBy": "carl", "erasedOn": str(TODAY),
        "restrictedRecords": 1, "retainedUntil": None}}
    assert api.data(REQUESTS, user="carl")["erasureRequests"] == [{
        "customerId": str(portfolio.north), "status": "completed",
        "basis": "GDPR Art. 17(1)(a)", "requestedBy": "carl"}]
    kept = [{"recordClass": "dispute", "field": "note", "value": '"Marie disputes the price"',
             "retainedUntil": None}]
    for user in ("audrey", "carl"):
        assert api.data(RESTRICTED, {"id": str(portfolio.north)},
                        user=user)["restrictedPersonalData"] == kept
    catch_up(app)
    assert api.data(CONTACTS, {"id": str(portfolio.north)}, user="audrey")["customer"] == {
        "contacts": [{"name": "[erased]", "email": "[erased]"}]}


def test_others_are_denied_and_refusals_typed(api: Api, portfolio: Portfolio) -> None:
    for query, variables in ((REQUEST, {"id": str(portfolio.north), "basis": "GDPR"}),
                             (RESTRICTED, {"id": str(portfolio.north)}), (REQUESTS, None)):
        assert api.errors(query, variables, user="sue")[0]["extensions"]["code"] == "FORBIDDEN"
    assert api.errors(RESTRICTED, {"id": str(portfolio.north)}, user="erp")
    empty = api.data(REQUEST, {"id": str(portfolio.north), "basis": " "}, user="carl")
    assert empty["requestErasure"]["code"] == "INVALID"
    unknown = api.data(REQUEST, {"id": str(portfolio.north_invoice), "basis": "GDPR"},
                       user="carl")
    assert unknown["requestErasure"]["code"] == "NOT_FOUND"
