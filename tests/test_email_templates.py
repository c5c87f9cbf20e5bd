"""Email templates as data, and the rules of collection emails that need no mail server:
templates checked when saved (the error names the part and the line; nothing saved), versions,
the shipped defaults, which template an email is composed from, what an email may name, and
the dunning levels a delivered letter raises (never down, never twice, level 0 nothing)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from ledger_collect.commands.application import Collections
from ledger_collect.commands.email_commands import (
    create_email,
    record_email_delivery,
    save_email_template,
)
from ledger_collect.commands.receivable_commands import (
    clear_invoice,
    post_invoice,
    raise_dunning_level,
    register_customer,
)
from ledger_collect.commands.template_defaults import find_template, shipped
from ledger_collect.domain.base import DomainError
from ledger_collect.domain.email_template import EmailTemplate, template_id
from ledger_collect.domain.templating import SAMPLE, VARIABLES, check, money, render

pytestmark = pytest.mark.store("memory")

TODAY = date(2026, 11, 23)
SUE = {"actor": "sue", "business_date": TODAY}


def refused(app: Collections, command, *args, **kwargs) -> str:
    before = app.recorder.max_notification_id()
    with pytest.raises(DomainError) as caught:
        app.run(command, *args, **kwargs)
    assert app.recorder.max_notification_id() == before  # nothing saved
    return f"{caught.value.code}: {caught.value}"


@pytest.mark.parametrize(("subject", "body", "message"), [
    ("Statement {{ customer.number }", "Hello",
     "TEMPLATE_INVALID: subject, line 1: unexpected '}'"),
    ("Statement", "Dear {{ contact.name }},\n\n{% for item in items %}\n{{ item.due }}\n",
     ("TEMPLATE_INVALID: body, line 4: Unexpected end of template. Jinja was looking for the "
     "following tags: 'endfor' or 'else'. The innermost block that needs to be closed is 'for'.")),
    ("Statement", "Dear {{ contact.name }},\n\nyou owe {{ totl }}.",
     ("TEMPLATE_INVALID: body, line 3: unknown variable 'totl'; a template may use customer, "
     "contact, as_of, language, dunning_level, items, totals, fee, interest")),
    ("Statement", "Hello\n{% for item in items %}\n{{ item.amuont|money }}\n{% endfor %}",
     "TEMPLATE_INVALID: body, line 3: 'dict object' has no attribute 'amuont'"),
    ("Statement", "{{ customer.__class__.__mro__ }}",
     ("TEMPLATE_INVALID: body, line 1: access to attribute '__class__' of 'dict' object is "
     "unsafe.")),
    ("", "Hello", "INVALID: a template needs a subject"),
])
def test_a_template_that_would_fail_is_refused_naming_the_line(
        app: Collections, subject: str, body: str, message: str) -> None:
    assert refused(app, save_email_template, "statement", "en", subject=subject, body=body,
                   **SUE) == message


def test_each_save_that_changes_the_text_is_a_new_version(app: Collections) -> None:
    body = "Dear {{ customer.name }},\nplease find your statement attached."
    assert app.run(save_email_template, "statement", "de", subject="Kontoauszug", body=body,
                   **SUE).result == 1
    assert app.run(save_email_template, "statement", "de", subject="Kontoauszug", body=body,
                   **SUE).position is None  # the same text: nothing recorded
    assert app.run(save_email_template, "statement", "de", subject="Ihr Kontoauszug",
                   body=body, actor="root", business_date=TODAY).result == 2
    saved = app.repository.get(template_id("statement", "de"))
    assert (saved.revision, saved.subject, saved.saved_by) == (2, "Ihr Kontoauszug", "root")
    assert [type(e).__name__ for e in app.repository.get(saved.id).collect_events()] == []
    assert [e.topic for e in app.recorder.select_events(saved.id)] == [
        "ledger_collect.EmailTemplate.Saved", "ledger_collect.EmailTemplate.Changed"]
    assert template_id("statement", "de") == EmailTemplate.create_id("statement", "de")
    assert template_id("dunning", "de", 2) != template_id("dunning", "de")


def test_a_key_language_or_level_out_of_shape_is_refused(app: Collections) -> None:
    text = {"subject": "S", "body": "B"}
    assert refused(app, save_email_template, "Statement!", "en", **text, **SUE).startswith(
        "INVALID: template key 'Statement!' must be lowercase")
    assert refused(app, save_email_template, "statement", "english", **text, **SUE) == (
        "INVALID: language 'english' must be a code such as en, fr or fr-CH")
    assert refused(app, save_email_template, "dunning", "en", level=10, **text, **SUE) == (
        "INVALID: dunning level 10 must be a whole number from 0 to 9")


def test_every_shipped_template_passes_the_check() -> None:
    found = {(t.key, t.language, t.level) for t in shipped().values()}
    assert found == {(key, language, level) for language in ("en", "fr")
                     for key, level in (("statement", None), ("reminder", None),
                                        ("dunning", 0), ("dunning", 1), ("dunning", 2),
                                        ("dunning", 3))}
    for template in shipped().values():
        check("subject", template.subject, template.language)
        check("body", template.body, template.language)
        for facts in (SAMPLE, {**SAMPLE, "contact": None, "fee": None, "interest": None,
                               "items": [], "totals": []}):
            assert "{{" not in render(template.body, {**facts, "language": template.language})


def test_a_saved_template_replaces_the_shipped_one_and_a_level_falls_back(
        app: Collections) -> None:
    def find(key: str, language: str, level: int | None = None):
        return find_template(lambda tid: app.repository.get(tid) if tid in saved else None,
                             key, language, level)

    saved: set[UUID] = set()
    assert find("dunning", "fr", 2).subject == "Deuxième rappel {{ customer.number }}"
    assert find("dunning", "fr", 2).shipped
    app.run(save_email_template, "dunning", "fr", level=2, subject="Rappel n° 2", body="B",
            **SUE)
    saved.add(template_id("dunning", "fr", 2))
    assert (find("dunning", "fr", 2).subject, find("dunning", "fr", 2).revision) == (
        "Rappel n° 2", 1)
    app.run(save_email_template, "dunning", "fr", subject="Rappel", body="B", **SUE)
    saved.add(template_id("dunning", "fr"))
    assert find("dunning", "fr", 7).subject == "Rappel"  # no level 7: the key's own
    with pytest.raises(DomainError, match="there is no email template dunning \\(de, level 2"):
        find("dunning", "de", 2)


def test_money_is_written_as_the_language_does_with_the_cents_it_has() -> None:
    assert [money(Decimal(v), lang) for v, lang in (
        ("1234567.89", "en"), ("1234567.89", "fr"), ("1234567.89", "de"), ("0.01", "fr"),
        ("-999.90", "en"), ("100.00", "it"))] == [
        "1,234,567.89", "1\u00a0234\u00a0567,89", "1.234.567,89", "0,01", "-999.90", "100.00"]
    assert set(VARIABLES) >= {"customer", "items", "totals", "fee", "interest"}


# -- emails and dunning letters -----------------------------------------------------------------
def portfolio(app: Collections) -> tuple[UUID, dict[str, UUID]]:
    erp = {"actor": "erp", "business_date": TODAY - timedelta(days=1)}
    customer = app.run(register_customer, number="C1", name="Acme", segment="north",
                       credit_limit=Decimal(1000), currency="EUR", risk_class="B",
                       source_id="md-C1", **erp).result
    app.run(register_customer, number="C2", name="Other", segment="north",
            credit_limit=Decimal(1000), currency="EUR", risk_class="B", source_id="md-C2", **erp)
    invoices = {}
    for number, owner, due_in in (("I-OVERDUE", "C1", -30), ("I-DUE", "C1", 0),
                                  ("I-LATER", "C1", 20), ("I-OTHER", "C2", -30)):
        due = TODAY + timedelta(days=due_in)
        invoices[number] = app.run(post_invoice, customer_number=owner,
                                   document_number=number, amount=Decimal("100.00"),
                                   currency="EUR", posting_date=due - timedelta(days=30),
                                   due_date=due, source_id=f"i-{number}", **erp).result
    return customer, invoices


def test_an_email_names_a_template_that_exists_and_attachments_the_mailer_makes(
        app: Collections) -> None:
    customer, _invoices = portfolio(app)
    base = {"to": ["ap@acme.example"], **SUE}
    assert refused(app, create_email, customer, template="welcome", **base) == (
        "NOT_FOUND: there is no email template welcome (en); save one first")
    assert refused(app, create_email, customer, template="statement", language="es",
                   **base) == "NOT_FOUND: there is no email template statement (es); save one first"
    assert refused(app, create_email, customer, template="statement",
                   attachments=["invoice-copy.pdf"], **base) == (
        "INVALID: 'invoice-copy.pdf' is not an attachment the mailer can make; it makes "
        "open-items.pdf, open-items.csv, statement.pdf, statement.csv")
    app.run(save_email_template, "welcome", "es", subject="Hola", body="Hola", **SUE)
    made = app.run(create_email, customer, template="welcome", language="es", **base).result
    assert (app.repository.get(made).language, app.repository.get(made).level) == ("es", None)


def test_a_dunning_letter_announces_open_invoices_of_its_customer(app: Collections) -> None:
    customer, inv = portfolio(app)
    letter = {"to": ["ap@acme.example"], "template": "dunning", **SUE}
    assert refused(app, create_email, customer, dunning=[(inv["I-OTHER"], 1)], **letter) == (
        "WRONG_CUSTOMER: invoice I-OTHER belongs to another customer than the letter")
    assert refused(app, create_email, customer, dunning=[(inv["I-DUE"], 1)], **letter) == (
        f"INVALID: invoice I-DUE is not overdue on {TODAY} (due {TODAY}): a level 1 letter "
        f"cannot announce it; level 0 is the pre-due reminder")
    assert refused(app, create_email, customer,
                   dunning=[(inv["I-OVERDUE"], 1), (inv["I-OVERDUE"], 2)], **letter) == (
        f"INVALID: invoice {inv['I-OVERDUE']} is named twice in the dunning letter")
    assert refused(app, create_email, customer, dunning=[(inv["I-OVERDUE"], -1)],
                   **letter) == "INVALID: dunning 1: level -1 must be a whole number from 0 to 9"
    assert refused(app, create_email, customer, dunning=[(inv["I-OVERDUE"], 1)],
                   fee=Decimal("0.00"), **letter) == (
        "INVALID: dunning fee must be greater than zero, got 0.00")
    assert refused(app, create_email, customer, dunning=[(inv["I-OVERDUE"], 1)],
                   fee=Decimal("1.005"), **letter) == (
        "INVALID: fee 1.005 has more than two decimal places")
    app.run(clear_invoice, source_id="clr", invoice_number="I-LATER", **SUE)
    assert refused(app, create_email, customer, dunning=[(inv["I-LATER"], 0)], **letter) == (
        "INVOICE_CLOSED: invoice I-LATER is cleared; it cannot be dunned")
    email = app.run(create_email, customer, dunning=[(inv["I-OVERDUE"], 1), (inv["I-DUE"], 0)],
                    fee=Decimal("2.50"), interest="0.83", **letter).result
    made = app.repository.get(email)
    assert (made.level, made.dunning, made.fee, made.interest) == (
        1, [(inv["I-OVERDUE"], 1), (inv["I-DUE"], 0)], Decimal("2.50"), Decimal("0.83"))


def dunning_levels(app: Collections, invoices: dict[str, UUID]) -> dict[str, int]:
    return {n: app.repository.get(i).dunning_level for n, i in invoices.items()
            if n != "I-OTHER"}


def test_levels_rise_to_the_letters_when_it_reached_someone_never_down_never_twice(
        app: Collections) -> None:
    customer, inv = portfolio(app)
    app.run(raise_dunning_level, inv["I-OVERDUE"], **SUE)  # already at 1

    def letter(*pairs: tuple[str, int], cc: tuple[str, ...] = ()) -> UUID:
        return app.run(create_email, customer, to=["ap@acme.example"], cc=cc,
                       template="dunning", dunning=[(inv[n], level) for n, level in pairs],
                       **SUE).result

    failed = letter(("I-OVERDUE", 3))
    assert app.run(record_email_delivery, failed, attempt=1,
                   refused={"ap@acme.example": "550 unknown"}, **SUE).result == "failed"
    assert dunning_levels(app, inv) == {"I-OVERDUE": 1, "I-DUE": 0, "I-LATER": 0}

    sent = letter(("I-OVERDUE", 3), ("I-DUE", 0), ("I-LATER", 0))
    assert app.run(record_email_delivery, sent, attempt=1, **SUE).result == "sent"
    assert dunning_levels(app, inv) == {"I-OVERDUE": 3, "I-DUE": 0, "I-LATER": 0}
    again = app.run(record_email_delivery, sent, attempt=1, **SUE)
    assert (again.result, again.position) == (None, None)  # recorded once
    assert app.run(record_email_delivery, sent, attempt=2, **SUE).result is None

    lower = letter(("I-OVERDUE", 2), cc=("cfo@acme.example",))
    assert app.run(record_email_delivery, lower, attempt=1,
                   refused={"cfo@acme.example": "550 unknown"}, **SUE).result == "partly_sent"
    assert dunning_levels(app, inv) == {"I-OVERDUE": 3, "I-DUE": 0, "I-LATER": 0}
    raised = [e for e in app.recorder.select_events(inv["I-OVERDUE"])
              if e.topic.endswith("DunningLevelRaised")]
    assert len(raised) == 2  # by hand to 1, by the letter to 3


def test_an_invoice_closed_while_the_letter_travelled_keeps_its_level(app: Collections) -> None:
    customer, inv = portfolio(app)
    email = app.run(create_email, customer, to=["ap@acme.example"], template="dunning",
                    dunning=[(inv["I-OVERDUE"], 2)], **SUE).result
    app.run(clear_invoice, source_id="clr", invoice_number="I-OVERDUE", **SUE)
    assert app.run(record_email_delivery, email, attempt=1, **SUE).result == "sent"
    assert app.repository.get(inv["I-OVERDUE"]).dunning_level == 0
