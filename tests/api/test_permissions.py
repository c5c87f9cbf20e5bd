"""Who may do what, and who may see personal data: each boundary over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from api.helpers import Api, Portfolio
from ledger_collect.commands.application import Collections

CUSTOMER = """query($id: UUID!) { customer(id: $id) {
    number specialist
    contacts { contactId role isDefault name email phone }
    notes { noteId text } } }"""
RECORD_PROMISE = """mutation($input: RecordPromiseInput!) { recordPromise(input: $input) {
    __typename ... on PromiseRecorded { status level amount }
    ... on Problem { code message } } }"""
POST_INVOICE = """mutation($input: PostInvoiceInput!) { postInvoice(input: $input) {
    __typename ... on InvoicePosted { documentNumber openAmount recorded } } }"""
ASSIGN = """mutation($id: UUID!, $who: String!) {
    assignCustomer(input: {customerId: $id, specialist: $who}) {
      __typename ... on CustomerAssigned { specialist } } }"""
UNASSIGN = """mutation($id: UUID!) { unassignCustomer(input: {customerId: $id}) { __typename } }"""
NOTE = """mutation($id: UUID!) { addCustomerNote(input: {customerId: $id, text: "called"}) {
    __typename } }"""
PERSONAL = ("Marie", "marie@c1.example", "+33 1 23 45 67 89", "2 pm")


def promise(invoice: Any, amount: str = "400.00") -> dict[str, Any]:
    return {"input": {"invoiceId": str(invoice), "amount": amount,
                      "promisedDate": "2026-12-01"}}


def forbidden(api: Api, query: str, variables: dict[str, Any], user: str) -> str:
    response = api.post(query, variables, user=user)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    return str(error["message"])


def test_specialist_records_promises_only_in_their_segments(
        api: Api, portfolio: Portfolio, app: Collections) -> None:
    message = forbidden(api, RECORD_PROMISE, promise(portfolio.north_invoice), "bob")
    assert message == ("a user with role specialist may not record casework for customers "
                       "of segment north")
    assert app.repository.get(portfolio.north_invoice).open_promise_id is None
    done = api.data(RECORD_PROMISE, promise(portfolio.north_invoice), user="alice")
    assert done["recordPromise"] == {"__typename": "PromiseRecorded", "status": "open",
                                     "level": 1, "amount": "400.00"}


def test_personal_data_only_for_own_segments(api: Api, portfolio: Portfolio) -> None:
    seen = api.data(CUSTOMER, {"id": str(portfolio.north)}, user="alice")["customer"]
    assert seen["contacts"] == [{"contactId": "p1", "role": "accounts payable",
                                 "isDefault": True, "name": "Marie Curie",
                                 "email": "marie@c1.example", "phone": "+33 1 23 45 67 89"}]
    assert seen["notes"] == [{"noteId": "n1", "text": "prefers calls after 2 pm"}]


@pytest.mark.parametrize("user", ["bob", "carl", "erp"])
def test_personal_data_hidden_from_other_segments_compliance_and_integration(
        api: Api, portfolio: Portfolio, user: str) -> None:
    response = api.post(CUSTOMER, {"id": str(portfolio.north)}, user=user)
    assert response.status_code == 200
    for secret in PERSONAL:
        assert secret not in response.text, (user, secret)
    body = response.json()
    customer = body["data"]["customer"]
    assert customer["number"] == "C-1" and customer["specialist"] == "alice"
    assert customer["contacts"] == [{"contactId": None, "role": "accounts payable",
                                     "isDefault": True, "name": None, "email": None,
                                     "phone": None}]
    assert customer["notes"] == [{"noteId": "n1", "text": None}]
    paths = sorted(tuple(e["path"]) for e in body["errors"])
    assert paths == [("customer", "contacts", 0, "contactId"),
                     ("customer", "contacts", 0, "email"), ("customer", "contacts", 0, "name"),
                     ("customer", "contacts", 0, "phone"), ("customer", "notes", 0, "text")]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}


def test_auditor_reads_everything_and_changes_nothing(
        api: Api, portfolio: Portfolio, app: Collections) -> None:
    seen = api.data(CUSTOMER, {"id": str(portfolio.north)}, user="audrey")["customer"]
    assert seen["contacts"][0]["name"] == "Marie Curie"
    assert forbidden(api, NOTE, {"id": str(portfolio.north)}, "audrey") == (
        "a user with role auditor may not record casework")
    assert forbidden(api, ASSIGN, {"id": str(portfolio.north), "who": "audrey"}, "audrey") == (
        "a user with role auditor may not assign customers")
    forbidden(api, RECORD_PROMISE, promise(portfolio.north_invoice), "audrey")
    assert list(app.repository.get(portfolio.north).notes) == ["n1"]


def test_a_denial_does_not_tell_whether_the_record_exists(api: Api) -> None:
    unknown = "00000000-0000-0000-0000-000000000001"
    forbidden(api, RECORD_PROMISE, promise(unknown), "audrey")
    assert api.data(RECORD_PROMISE, promise(unknown), user="alice")["recordPromise"] == {
        "__typename": "NotFound", "code": "NOT_FOUND",
        "message": f"invoice {unknown} does not exist"}


def test_integration_feeds_invoices_but_records_no_promises(
        api: Api, portfolio: Portfolio) -> None:
    invoice = {"input": {"customerNumber": "C-1", "documentNumber": "INV-9",
                         "amount": "250.00", "currency": "EUR", "postingDate": "2026-11-20",
                         "dueDate": "2026-12-20", "sourceId": "inv-9"}}
    assert api.data(POST_INVOICE, invoice, user="erp")["postInvoice"] == {
        "__typename": "InvoicePosted", "documentNumber": "INV-9", "openAmount": "250.00",
        "recorded": True}
    assert forbidden(api, RECORD_PROMISE, promise(portfolio.north_invoice), "erp") == (
        "a user with role integration may not record casework")
    assert forbidden(api, POST_INVOICE, invoice, "alice") == (
        "a user with role specialist may not feed ERP facts")


def test_supervisor_assigns_within_their_segments(api: Api, portfolio: Portfolio) -> None:
    moved = api.data(ASSIGN, {"id": str(portfolio.north), "who": "anna"}, user="sue")
    assert moved["assignCustomer"] == {"__typename": "CustomerAssigned", "specialist": "anna"}
    assert forbidden(api, ASSIGN, {"id": str(portfolio.south), "who": "bob"}, "sue") == (
        "a user with role supervisor may not assign customers for customers of segment south")


def test_specialist_cannot_reassign_someone_elses_customer(
        api: Api, portfolio: Portfolio, app: Collections) -> None:
    north = {"id": str(portfolio.north)}
    # alice's customer: another specialist may not take it, alice may not hand it over
    assert forbidden(api, ASSIGN, {**north, "who": "anna"}, "anna") == (
        "this customer is assigned to alice; only a supervisor can reassign it")
    assert forbidden(api, UNASSIGN, north, "anna") == (
        "this customer is assigned to alice; only a supervisor can reassign it")
    assert forbidden(api, ASSIGN, {**north, "who": "anna"}, "alice") == (
        "a specialist can only assign customers to themselves; ask a supervisor to assign "
        "them to someone else")
    # alice gives it up, then anna takes the unassigned customer for herself
    assert api.data(UNASSIGN, north, user="alice")["unassignCustomer"] == {
        "__typename": "CustomerUnassigned"}
    assert api.data(ASSIGN, {**north, "who": "anna"}, user="anna")["assignCustomer"] == {
        "__typename": "CustomerAssigned", "specialist": "anna"}
    assert app.repository.get(portfolio.north).specialist == "anna"



def test_the_readme_says_who_sees_personal_data_as_the_policy_has_it() -> None:
    """The README's account of who sees personal data where is derived here from ``GRANTS``:
    a change of the policy that the README does not follow fails."""
    from pathlib import Path

    from ledger_collect.api.permissions import ALL, GRANTS, OWN, Action, Role

    def who(scope: object, suffix: str) -> str:
        names = sorted(f"{role.value}{suffix}" for role in Role
                       if GRANTS[role].get(Action.SEE_PERSONAL_DATA) is scope)
        return " and ".join(names)

    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    assert f"is served to {who(ALL, 's')} in every segment" in readme
    assert f"to {who(OWN, 's')} only for customers of their own segments" in readme
    assert f"{who(None, '')} users never see it" in readme
