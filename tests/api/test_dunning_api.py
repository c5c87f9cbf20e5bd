"""Dunning over HTTP: who may change procedures and which one applies, who may block, and the
proposal a supervisor reviews (paged), on the small portfolio: C-1 (north, alice's) and C-2
(south), one invoice of 1,000.00 each, due ten days ago."""

from __future__ import annotations

from typing import Any

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.commands.application import Collections
from ledger_collect.projections.engine import catch_up

SAVE = """mutation ($input: SaveDunningProcedureInput!) { saveDunningProcedure(input: $input) {
  __typename ... on DunningSetup { defaultProcedure
    procedures { code minimumAmount interestRate levels { level daysOverdue graceDays fee } } }
  ... on Problem { code message } } }"""
DEFAULT = """mutation ($code: String) { setDefaultDunningProcedure(input: {code: $code}) {
  __typename ... on DunningSetup { defaultProcedure } ... on Problem { code } } }"""
SEGMENT = """mutation ($segment: String!, $code: String) {
  setSegmentDunningProcedure(input: {segment: $segment, code: $code}) {
    __typename ... on DunningSetup { segments { segment code } } ... on Problem { code } } }"""
BLOCK = """mutation ($id: UUID!, $until: Date) {
  blockCustomerDunning(input: {customerId: $id, reason: "talks going on", until: $until}) {
    __typename ... on CustomerDunning { blocked blockedUntil } ... on Problem { code } } }"""
RELEASE = """mutation ($id: UUID!) { releaseCustomerDunningBlock(input: {customerId: $id}) {
    __typename ... on CustomerDunning { blocked } ... on Problem { code message } } }"""
BLOCK_INVOICE = """mutation ($id: UUID!) {
  blockInvoiceDunning(input: {invoiceId: $id, reason: "credit note coming"}) {
    __typename ... on InvoiceDunning { blocked dunningLevel } ... on Problem { code } } }"""
SETUP = """{ dunningSetup { defaultProcedure segments { segment code }
  procedures { code quietDays perInvoice levels { fee } } } }"""
PROPOSAL = """query ($date: Date!, $segment: String, $first: Int!, $after: String) {
  dunningProposal(date: $date, segment: $segment, first: $first, after: $after) {
    customers totalLetters noAddress hasNextPage
    letters { customerNumber kind level amount fee interest total hasAddress cursor
              items { documentNumber daysOverdue level interest } } } }"""
PROCEDURE = {"code": "standard", "minimumAmount": "50.00", "interestRate": "9.5",
             "levels": [{"daysOverdue": 7, "graceDays": 7},
                        {"daysOverdue": 21, "graceDays": 10, "fee": "10.00"}]}


def _answer(api: Api, query: str, variables: dict[str, Any], user: str) -> Any:
    body = api.post(query, variables, user=user).json()
    return body if "errors" in body else next(iter(body["data"].values()))


def test_who_may_configure_dunning(api: Api, portfolio: Portfolio) -> None:
    denied = _answer(api, SAVE, {"input": PROCEDURE}, "alice")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    saved = _answer(api, SAVE, {"input": PROCEDURE}, "sue")
    assert saved["procedures"] == [{"code": "standard", "minimumAmount": "50.00",
                                    "interestRate": "9.5", "levels": [
        {"level": 1, "daysOverdue": 7, "graceDays": 7, "fee": "0.00"},
        {"level": 2, "daysOverdue": 21, "graceDays": 10, "fee": "10.00"}]}]
    forbidden = _answer(api, DEFAULT, {"code": "standard"}, "sue")
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert _answer(api, DEFAULT, {"code": "standard"}, "root")["defaultProcedure"] == "standard"
    assert _answer(api, SEGMENT, {"segment": "north", "code": "standard"}, "sue")[
        "segments"] == [{"segment": "north", "code": "standard"}]
    south = _answer(api, SEGMENT, {"segment": "south", "code": "standard"}, "sue")
    assert south["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    unknown = _answer(api, DEFAULT, {"code": "nope"}, "root")
    assert unknown == {"__typename": "NotFound", "code": "NOT_FOUND"}
    bad = _answer(api, SAVE, {"input": {**PROCEDURE, "interestRate": "120"}}, "root")
    assert (bad["__typename"], bad["code"]) == ("RuleBroken", "DUNNING_PROCEDURE")


def test_specialists_block_within_their_segments(api: Api, app: Collections,
                                                 portfolio: Portfolio) -> None:
    north = str(portfolio.north)
    outside = _answer(api, BLOCK, {"id": north}, "bob")
    assert outside["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    until = TODAY.isoformat()
    assert _answer(api, BLOCK, {"id": north, "until": until}, "alice") == {
        "__typename": "CustomerDunning", "blocked": True, "blockedUntil": until}
    assert _answer(api, RELEASE, {"id": north}, "alice") == {"__typename": "CustomerDunning",
                                                             "blocked": False}
    again = _answer(api, RELEASE, {"id": north}, "alice")
    assert again["code"] == "NOT_BLOCKED"
    assert _answer(api, BLOCK_INVOICE, {"id": str(portfolio.north_invoice)}, "alice") == {
        "__typename": "InvoiceDunning", "blocked": True, "dunningLevel": 0}
    audit = _answer(api, BLOCK_INVOICE, {"id": str(portfolio.north_invoice)}, "audrey")
    assert audit["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_the_setup_and_the_proposal(api: Api, app: Collections, portfolio: Portfolio) -> None:
    _answer(api, SAVE, {"input": PROCEDURE}, "root")
    _answer(api, DEFAULT, {"code": "standard"}, "root")
    catch_up(app)
    assert api.data(SETUP, user="audrey")["dunningSetup"] == {
        "defaultProcedure": "standard", "segments": [],
        "procedures": [{"code": "standard", "quietDays": 0, "perInvoice": False,
                        "levels": [{"fee": "0.00"}, {"fee": "10.00"}]}]}
    day = {"date": TODAY.isoformat(), "first": 1}
    first = api.data(PROPOSAL, day, user="sue")["dunningProposal"]
    assert (first["customers"], first["totalLetters"], first["noAddress"],
            first["hasNextPage"]) == (2, 2, 1, True)
    (letter,) = first["letters"]
    # 1,000.00 at 9.5 % for 10 days: 2.6027… → 2.60
    assert {k: letter[k] for k in ("customerNumber", "kind", "level", "amount", "fee",
                                   "interest", "total", "hasAddress")} == {
        "customerNumber": "C-1", "kind": "dunning", "level": 1, "amount": "1000.00",
        "fee": "0.00", "interest": "2.60", "total": "1002.60", "hasAddress": True}
    assert letter["items"] == [{"documentNumber": "INV-C-1", "daysOverdue": 10, "level": 1,
                                "interest": "2.60"}]
    rest = api.data(PROPOSAL, {**day, "after": letter["cursor"]})["dunningProposal"]
    assert [(x["customerNumber"], x["hasAddress"]) for x in rest["letters"]] == [("C-2", False)]
    assert not rest["hasNextPage"]
    south = api.data(PROPOSAL, {**day, "segment": "south", "first": 5})["dunningProposal"]
    assert south["totalLetters"] == 1
    wrong = api.errors(PROPOSAL, {**day, "after": "@@"})
    assert wrong[0]["extensions"]["code"] == "BAD_USER_INPUT"
