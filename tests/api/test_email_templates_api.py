"""Email templates over HTTP: listed (shipped, then saved versions over them), saved by a
supervisor (a specialist may not; a template that would fail is refused naming the line), and
a preview of what a template makes for a customer, through the personal-data guard. A dunning
letter created over HTTP names the invoices it announces."""

from __future__ import annotations

from typing import Any

from api.helpers import Api, Portfolio
from ledger_collect.commands.application import Collections
from ledger_collect.projections.engine import catch_up

SAVE = """mutation ($input: SaveEmailTemplateInput!) { saveEmailTemplate(input: $input) {
  __typename
  ... on EmailTemplateSaved { template { key language level subject revision savedBy } }
  ... on Problem { code message } } }"""
TEMPLATES = """query ($key: String, $language: String) {
  emailTemplates(key: $key, language: $language) { key language level revision subject } }"""
PREVIEW = """query ($id: UUID!, $template: String!, $language: String!, $level: Int) {
  emailPreview(customerId: $id, template: $template, language: $language, level: $level) {
    __typename
    ... on EmailPreview { subject body template { key level revision } }
    ... on Problem { code message } } }"""
CREATE = """mutation ($input: CreateEmailInput!) { createEmail(input: $input) {
  __typename ... on EmailState { status } ... on Problem { code message } } }"""


def save(api: Api, user: str, **fields: Any) -> dict[str, Any]:
    body = api.post(SAVE, {"input": fields}, user=user).json()
    return body


def test_templates_are_listed_shipped_then_as_saved(api: Api, app: Collections,
                                                    portfolio: Portfolio) -> None:
    catch_up(app, "correspondence")
    listed = api.data(TEMPLATES, {"key": "dunning", "language": "en"}, user="alice")
    assert [(t["level"], t["revision"]) for t in listed["emailTemplates"]] == [
        (0, None), (1, None), (2, None), (3, None)]
    saved = save(api, "sue", key="dunning", language="en", level=1,
                 subject="Reminder {{ customer.number }}", body="Dear {{ customer.name }}")
    assert saved["data"]["saveEmailTemplate"] == {"__typename": "EmailTemplateSaved", "template": {
        "key": "dunning", "language": "en", "level": 1,
        "subject": "Reminder {{ customer.number }}", "revision": 1, "savedBy": "sue"}}
    again = save(api, "root", key="dunning", language="en", level=1,
                 subject="First reminder {{ customer.number }}", body="Dear {{ customer.name }}")
    assert again["data"]["saveEmailTemplate"]["template"]["revision"] == 2
    catch_up(app, "correspondence")
    listed = api.data(TEMPLATES, {"key": "dunning", "language": "en"}, user="alice")
    assert [(t["level"], t["revision"], t["subject"]) for t in listed["emailTemplates"]][:2] == [
        (0, None, "Upcoming due date {{ customer.number }}"),
        (1, 2, "First reminder {{ customer.number }}")]


def test_a_specialist_may_not_save_and_a_bad_template_is_refused(
        api: Api, portfolio: Portfolio) -> None:
    denied = save(api, "alice", key="statement", language="en", subject="S", body="B")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert denied["errors"][0]["message"] == (
        "a user with role specialist may not edit email templates")
    bad = save(api, "sue", key="statement", language="en", subject="Statement",
               body="Dear {{ contact.name }},\n{{ total }}")
    assert bad["data"]["saveEmailTemplate"] == {
        "__typename": "RuleBroken", "code": "TEMPLATE_INVALID",
        "message": "body, line 2: unknown variable 'total'; a template may use customer, "
                   "contact, as_of, language, dunning_level, items, totals, fee, interest"}


def test_a_preview_shows_the_letter_to_those_who_may_see_the_customers_people(
        api: Api, app: Collections, portfolio: Portfolio) -> None:
    catch_up(app)
    asked = {"id": str(portfolio.north), "template": "dunning", "language": "fr", "level": 1}
    preview = api.data(PREVIEW, asked, user="alice")["emailPreview"]
    assert preview["subject"] == "Rappel de paiement C-1"
    assert preview["template"] == {"key": "dunning", "level": 1, "revision": None}
    assert preview["body"].startswith("Bonjour Marie Curie,\n")
    assert ("- INV-C-1, échéance 13 novembre 2026 : 1\u00a0000,00 EUR (10 jours de retard)"
            in preview["body"])
    hidden = api.post(PREVIEW, asked, user="bob").json()  # another segment
    assert hidden["data"]["emailPreview"]["body"] is None
    assert {e["extensions"]["code"] for e in hidden["errors"]} == {"FORBIDDEN"}
    unknown = api.data(PREVIEW, {**asked, "template": "welcome"}, user="alice")
    assert unknown["emailPreview"] == {
        "__typename": "NotFound", "code": "NOT_FOUND",
        "message": "there is no email template welcome (fr, level 1); save one first"}


def test_a_dunning_letter_created_over_http(api: Api, app: Collections,
                                            portfolio: Portfolio) -> None:
    letter = {"customerId": str(portfolio.north), "to": ["ap@c1.example"],
              "template": "dunning", "language": "fr",
              "dunning": [{"invoiceId": str(portfolio.north_invoice), "level": 2}]}
    assert api.data(CREATE, {"input": letter}, user="alice")["createEmail"] == {
        "__typename": "EmailCreated", "status": "pending"}
    wrong = {**letter, "dunning": [{"invoiceId": str(portfolio.south_invoice), "level": 2}]}
    assert api.data(CREATE, {"input": wrong}, user="alice")["createEmail"] == {
        "__typename": "RuleBroken", "code": "WRONG_CUSTOMER",
        "message": "invoice INV-C-2 belongs to another customer than the letter"}
