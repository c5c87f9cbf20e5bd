"""Retention over HTTP: the compliance officer sets a policy and holds a customer; anyone who
reads asks why a record is kept; refusals are typed problems; others may not change either."""

from __future__ import annotations

from typing import Any

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.commands.application import Collections
from ledger_collect.projections.engine import catch_up

SET = """mutation ($input: SetRetentionPolicyInput!) { setRetentionPolicy(input: $input) {
  __typename ... on RetentionPolicySet { policy { recordClass trigger action after retain
  isDefault } } ... on Problem { code message } } }"""
PLACE = """mutation ($input: PlaceLegalHoldInput!) { placeLegalHold(input: $input) {
  __typename ... on LegalHoldChanged { subjectKind reference placedOn }
  ... on Problem { code message } } }"""
RELEASE = """mutation ($id: UUID!) { releaseLegalHold(input: {subjectId: $id}) {
  __typename ... on LegalHoldChanged { reference } ... on Problem { code message } } }"""
STATUS = """query ($customer: UUID, $invoice: UUID) {
  retentionStatus(customerId: $customer, invoiceId: $invoice) { subjectKind heldBy
  records { recordClass records triggerOn actionOn retainedUntil heldBy why
  policy { action after } } } }"""
POLICIES = "{ retentionPolicies { recordClass action after retain isDefault } }"


def _set(api: Api, user: str = "carl", **changes: str) -> dict[str, Any]:
    given = {"recordClass": "email", "trigger": "sent", "action": "purge", "after": "p7y",
             "retain": "P6Y", **changes}
    return api.data(SET, {"input": given}, user=user)["setRetentionPolicy"]  # type: ignore[no-any-return]


def test_the_compliance_officer_sets_a_policy_and_everyone_reads_it(api: Api) -> None:
    assert _set(api) == {"__typename": "RetentionPolicySet", "policy": {
        "recordClass": "email", "trigger": "sent", "action": "purge", "after": "P7Y",
        "retain": "P6Y", "isDefault": False}}
    refused = _set(api, after="P5Y")
    assert (refused["__typename"], refused["code"]) == ("RuleBroken", "RETENTION_POLICY")
    assert "legal retention" in refused["message"]
    found = {p["recordClass"]: p for p in api.data(POLICIES, user="alice")["retentionPolicies"]}
    assert found["email"]["after"] == "P7Y" and not found["email"]["isDefault"]
    assert found["invoice"] == {"recordClass": "invoice", "action": "archive", "after": "P2Y",
                                "retain": "P10Y", "isDefault": True}
    for user in ("alice", "sue", "audrey", "erp"):
        [error] = api.errors(SET, {"input": {"recordClass": "email", "trigger": "sent",
                                             "action": "purge", "after": "P8Y",
                                             "retain": "P6Y"}}, user=user)
        assert error["extensions"]["code"] == "FORBIDDEN"


def test_a_hold_shows_in_why_the_customer_is_kept_until_released(
        api: Api, app: Collections, portfolio: Portfolio) -> None:
    hold = {"subjectKind": "customer", "subjectId": str(portfolio.north),
            "reference": "LIT-2026-3"}
    [error] = api.errors(PLACE, {"input": hold}, user="audrey")
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert api.data(PLACE, {"input": hold}, user="carl")["placeLegalHold"] == {
        "__typename": "LegalHoldChanged", "subjectKind": "customer", "reference": "LIT-2026-3",
        "placedOn": str(TODAY)}
    again = api.data(PLACE, {"input": {**hold, "reference": "OTHER"}}, user="carl")
    assert again["placeLegalHold"]["code"] == "LEGAL_HOLD"
    missing = api.data(PLACE, {"input": {**hold, "subjectKind": "dispute"}}, user="carl")
    assert missing["placeLegalHold"]["__typename"] == "NotFound"
    catch_up(app, "retention_streams")
    status = api.data(STATUS, {"customer": str(portfolio.north)}, user="alice")
    kept = status["retentionStatus"]
    assert kept["subjectKind"] == "customer" and kept["heldBy"] == "LIT-2026-3"
    assert [(r["recordClass"], r["heldBy"]) for r in kept["records"]] == [
        ("customer_personal", "LIT-2026-3"), ("invoice", "LIT-2026-3")]
    assert kept["records"][1]["why"].startswith("legal hold LIT-2026-3")
    released = api.data(RELEASE, {"id": str(portfolio.north)}, user="carl")
    assert released["releaseLegalHold"] == {"__typename": "LegalHoldChanged", "reference": None}
    invoice = api.data(STATUS, {"invoice": str(portfolio.north_invoice)}, user="bob")
    [record] = invoice["retentionStatus"]["records"]
    assert (record["heldBy"], record["actionOn"], record["retainedUntil"]) == (None, None, None)
    assert record["why"].startswith("invoice not cleared yet")
    [error] = api.errors(STATUS, {"customer": str(portfolio.north),
                                  "invoice": str(portfolio.north_invoice)})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert api.data(STATUS, {"invoice": str(portfolio.north)})["retentionStatus"] is None
