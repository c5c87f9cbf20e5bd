"""Values no command or query can work with, sent over GraphQL: each is refused naming its
field (a mutation's ``RuleBroken`` with code INVALID, or a query's ``BAD_USER_INPUT``), nothing
is stored, and none comes back as an internal error."""

from __future__ import annotations

from typing import Any

import pytest

from api.helpers import Api, Portfolio
from ledger_collect.commands.application import Collections
from ledger_collect.projections.engine import catch_up

PROBLEM = "... on Problem { code message }"
LONG = "x" * 16_000


def mutate(api: Api, field: str, variables: dict[str, Any], user: str = "root") -> dict[str, Any]:
    input_type = field[0].upper() + field[1:] + "Input"
    query = f"mutation($input: {input_type}!) {{ {field}(input: $input) {{ __typename {PROBLEM} }} }}"
    return api.data(query, {"input": variables}, user=user)[field]  # type: ignore[no-any-return]


def refused(app: Collections, api: Api, field: str, variables: dict[str, Any],
            user: str = "root") -> str:
    """The message of the refusal (a RuleBroken with code INVALID); checks nothing was stored."""
    before = app.recorder.max_notification_id()
    answer = mutate(api, field, variables, user)
    assert (answer["__typename"], answer["code"]) == ("RuleBroken", "INVALID"), answer
    assert app.recorder.max_notification_id() == before
    return answer["message"]  # type: ignore[no-any-return]


def bad_input(api: Api, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error of a query refused as BAD_USER_INPUT."""
    errors = api.errors(query, variables)
    assert len(errors) == 1, errors
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
    return errors[0]


def test_a_nul_in_free_text_is_refused_and_a_newline_is_kept(
        app: Collections, api: Api, portfolio: Portfolio) -> None:
    customer = str(portfolio.north)
    assert refused(app, api, "addCustomerNote", {"customerId": customer,
                                                 "text": "call back\x00 at 2"}) == (
        "text must not contain control characters other than newlines and tabs; found U+0000 "
        "at character 10")
    assert "template" in refused(app, api, "createEmail", {
        "customerId": customer, "to": ["marie@c1.example"], "template": "reminder\x00"})
    added = mutate(api, "addCustomerNote", {"customerId": customer,
                                            "text": "line one\nline two\tindented"})
    assert added["__typename"] == "CustomerNoteAdded"


def test_oversized_indexed_strings_are_refused(
        app: Collections, api: Api, portfolio: Portfolio) -> None:
    customer = str(portfolio.north)
    assert refused(app, api, "addContact", {"customerId": customer, "name": "Paul",
                                            "contactId": LONG}) == (
        "contact id is 16,000 characters long; at most 100 are allowed")
    assert refused(app, api, "openDispute", {
        "customerId": customer, "invoiceIds": [str(portfolio.north_invoice)],
        "amount": "10.00", "reason": "quality", "processor": LONG}).startswith("processor is ")
    assert refused(app, api, "createActivity", {
        "customerId": customer, "dueDate": "2026-12-01", "description": "call",
        "specialist": LONG}).startswith("specialist is ")
    assert refused(app, api, "addContact", {"customerId": customer, "name": "N" * 201}) == (
        "name is 201 characters long; at most 200 are allowed")


def test_a_promise_beyond_the_horizon_is_refused(
        app: Collections, api: Api, portfolio: Portfolio) -> None:
    invoice = str(portfolio.north_invoice)
    assert refused(app, api, "recordPromise", {"invoiceId": invoice, "amount": "10.00",
                                               "promisedDate": "9999-12-30"}) == (
        "promised date 9999-12-30 is outside the dates accepted, 1900-01-01 to 2199-12-31")
    # today is 2026-11-23 in the API tests: two years ahead is the furthest
    assert refused(app, api, "recordPromise", {"invoiceId": invoice, "amount": "10.00",
                                               "promisedDate": "2028-11-23"}) == (
        "promised date 2028-11-23 is more than 730 days after 2026-11-23; the furthest a "
        "promise may reach is 2028-11-22")
    kept = mutate(api, "recordPromise", {"invoiceId": invoice, "amount": "10.00",
                                         "promisedDate": "2028-11-22"})
    assert kept["__typename"] == "PromiseRecorded"


@pytest.mark.parametrize("amount", ["1e309", 1e308, "1" * 30, "123456789012345678901234567.5",
                                    "NaN", "-Infinity"])
def test_amounts_out_of_reach_are_refused_naming_the_amount(
        app: Collections, api: Api, portfolio: Portfolio, amount: Any) -> None:
    message = refused(app, api, "recordPromise", {
        "invoiceId": str(portfolio.north_invoice), "amount": amount,
        "promisedDate": "2026-12-01"})
    assert message.startswith("amount "), message
    invoice = {"customerNumber": "C-1", "documentNumber": "INV-9", "amount": amount,
               "currency": "EUR", "postingDate": "2026-11-01", "dueDate": "2026-12-01",
               "sourceId": "inv-9"}
    assert refused(app, api, "postInvoice", invoice, user="erp").startswith("amount ")


def test_amounts_are_refused_not_rounded(
        app: Collections, api: Api, portfolio: Portfolio) -> None:
    invoice = {"customerNumber": "C-1", "documentNumber": "INV-9", "amount": "100.005",
               "currency": "EUR", "postingDate": "2026-11-01", "dueDate": "2026-12-01",
               "sourceId": "inv-9"}
    assert refused(app, api, "postInvoice", invoice, user="erp") == (
        "amount 100.005 has more than two decimal places")
    assert refused(app, api, "recordPromise", {
        "invoiceId": str(portfolio.north_invoice), "amount": "10.015",
        "promisedDate": "2026-12-01"}) == "amount 10.015 has more than two decimal places"
    assert refused(app, api, "postInvoice", {**invoice, "amount": "1000000000000.00"},
                   user="erp") == ("amount 1000000000000.00 is beyond the largest amount "
                                   "accepted, 999,999,999,999.99")
    posted = mutate(api, "postInvoice", {**invoice, "amount": "999999999999.99"}, user="erp")
    assert posted["__typename"] == "InvoicePosted"


@pytest.mark.parametrize(("query", "argument"), [
    ('{ customers(search: "C\\u0000") { nodes { id } } }', "search"),
    ('{ customers(segment: "north\\u0000") { nodes { id } } }', "segment"),
    ('{ collectionStrategies(code: "default\\u0000") { code } }', "code"),
    ('{ worklist(specialist: "alice\\u0000") { asOf } }', "specialist"),
    ('{ disputes(processor: "alice\\u0000") { nodes { id } } }', "processor"),
    ('{ promises(filter: {specialist: "a\\u0000"}) { nodes { id } } }', "filter"),
    ('{ agingReport(currency: "EUR\\u0000") { asOf } }', "currency"),
    ('{ worklist(date: "0001-01-01") { asOf } }', "date"),
    ('{ worklist(date: "9999-12-31") { asOf } }', "date"),
    ('{ agingReport(asOf: "0001-01-01") { asOf } }', "asOf"),
    ('{ agingReport(asOf: "9999-12-31") { asOf } }', "asOf"),
    ('{ activities(filter: {dateFrom: "0001-01-01"}) { nodes { id } } }', "filter"),
    ('{ customers(search: "%s") { nodes { id } } }' % ("C" * 201), "search"),
])
def test_query_arguments_are_refused_as_bad_user_input(
        api: Api, portfolio: Portfolio, query: str, argument: str) -> None:
    error = bad_input(api, query)
    assert error["extensions"]["argument"] == argument
    assert error["message"].startswith(argument), error


def test_a_timeline_since_out_of_the_window_is_refused_in_a_variable_too(
        app: Collections, api: Api, portfolio: Portfolio) -> None:
    catch_up(app, "timeline")
    query = ("query($id: UUID!, $since: Date) { timeline(customerId: $id, since: $since) "
             "{ edges { cursor } } }")
    error = bad_input(api, query, {"id": str(portfolio.north), "since": "0001-01-01"})
    assert error["message"] == ("since 0001-01-01 is outside the dates accepted, 1900-01-01 "
                                "to 2199-12-31")
    assert api.data(query, {"id": str(portfolio.north), "since": "1900-01-01"})


@pytest.mark.parametrize(("given", "path"), [
    ({"amount": "abc"}, ".amount"), ({"amount": True}, ".amount"),
    ({"promisedDate": "2026-02-30"}, ".promisedDate")])
def test_a_variable_no_scalar_can_read_is_bad_user_input_naming_its_path(
        app: Collections, api: Api, portfolio: Portfolio, given: dict[str, Any],
        path: str) -> None:
    query = ("mutation($input: RecordPromiseInput!) { recordPromise(input: $input) "
             "{ __typename } }")
    before = app.recorder.max_notification_id()
    error = bad_input(api, query, {"input": {"invoiceId": str(portfolio.north_invoice),
                                             "amount": "1.00", "promisedDate": "2026-12-01",
                                             **given}})
    assert path in error["message"]
    assert app.recorder.max_notification_id() == before


@pytest.mark.parametrize(("changes", "said"), [
    ({"description": "ranks\x00"}, "description must not contain control characters"),
    ({"segment": "north\x00"}, "segment must not contain control characters"),
    ({"code": "n" * 101}, "code is 101 characters long; at most 100 are allowed"),
    ({"rules": [{"name": "risky\x00", "kind": "risk_class", "riskClasses": ["D"],
                 "points": 50}]}, "rule name must not contain control characters"),
])
def test_a_strategy_with_values_no_command_accepts_is_refused(
        api: Api, changes: dict[str, Any], said: str) -> None:
    strategy = {"code": "north", "segment": "north", "description": "",
                "rules": [{"name": "risky", "kind": "risk_class", "riskClasses": ["D"],
                           "points": 50}], **changes}
    answer = mutate(api, "publishCollectionStrategy", strategy)
    assert (answer["__typename"], answer["code"]) == ("RuleBroken", "STRATEGY_INVALID"), answer
    assert answer["message"].startswith(said)
    stored = api.data("{ collectionStrategies { code } }")["collectionStrategies"]
    assert "north" not in [strategy["code"] for strategy in stored]


def test_activating_a_strategy_code_with_a_nul_is_refused(api: Api) -> None:
    answer = mutate(api, "activateCollectionStrategy", {"code": "north\x00", "version": 1})
    assert (answer["__typename"], answer["code"]) == ("RuleBroken", "INVALID"), answer
    assert answer["message"].startswith("code must not contain control characters")
