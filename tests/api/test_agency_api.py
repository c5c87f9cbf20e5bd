"""The agency hand-over over HTTP: the admin's criteria, a supervisor submitting and recalling
a customer of their segment, a specialist refused."""

from __future__ import annotations

from typing import Any

from api.helpers import Api, Portfolio

CRITERIA = """mutation ($input: SetAgencyCriteriaInput!) { setAgencyCriteria(input: $input) {
  __typename ... on AgencyCriteria { minimumAmount daysOverdue } ... on Problem { code } } }"""
SUBMIT = """mutation ($input: SubmitToAgencyInput!) { submitToAgency(input: $input) {
  __typename ... on AgencyCase { caseId agency status invoiceIds submittedOn }
  ... on Problem { code message } } }"""
RECALL = """mutation ($input: RecallFromAgencyInput!) { recallFromAgency(input: $input) {
  __typename ... on AgencyCase { status } ... on Problem { code message } } }"""


def _answer(api: Api, query: str, variables: dict[str, Any], user: str) -> Any:
    body = api.post(query, variables, user=user).json()
    return body if "errors" in body else next(iter(body["data"].values()))


def test_criteria_submit_and_recall(api: Api, portfolio: Portfolio) -> None:
    criteria = {"input": {"minimumAmount": "1000.00", "daysOverdue": 10}}
    assert _answer(api, CRITERIA, criteria, "sue")["errors"][0]["extensions"]["code"] == (
        "FORBIDDEN")
    assert _answer(api, CRITERIA, criteria, "root") == {
        "__typename": "AgencyCriteria", "minimumAmount": "1000.00", "daysOverdue": 10}
    submit = {"input": {"customerId": str(portfolio.north), "agency": "Recouvra",
                        "invoiceIds": [str(portfolio.north_invoice)]}}
    denied = _answer(api, SUBMIT, submit, "alice")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    case = _answer(api, SUBMIT, submit, "sue")
    assert {k: case[k] for k in ("__typename", "agency", "status", "invoiceIds",
                                 "submittedOn")} == {
        "__typename": "AgencyCase", "agency": "Recouvra", "status": "submitted",
        "invoiceIds": [str(portfolio.north_invoice)], "submittedOn": "2026-11-23"}
    again = _answer(api, SUBMIT, submit, "sue")
    assert (again["__typename"], again["code"]) == ("RuleBroken", "INVALID")
    recall = {"input": {"caseId": case["caseId"], "reason": "paying directly"}}
    assert _answer(api, RECALL, recall, "bob")["errors"][0]["extensions"]["code"] == (
        "FORBIDDEN")
    assert _answer(api, RECALL, recall, "sue") == {"__typename": "AgencyCase",
                                                   "status": "recalled"}
