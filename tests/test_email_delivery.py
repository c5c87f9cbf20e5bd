"""Collection emails sent over SMTP to a real server (aiosmtpd on 127.0.0.1), read back as it
received them: headers, envelope, attachments decoded; the outcome recorded once, honestly —
sent only when the server accepted, failed only when it refused for good, pending (and the job
raising, to be retried) while the server cannot take the message."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pypdf
import pytest
from mail_server import Inbox, free_port, mail_server, self_signed

from ledger_collect.commands.application import Collections
from ledger_collect.commands.email_commands import (
    correct_and_resend_email,
    create_email,
)
from ledger_collect.commands.receivable_commands import (
    add_contact,
    apply_payment,
    post_invoice,
    register_customer,
)
from ledger_collect.config import Settings
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.invoice import Invoice
from ledger_collect.jobs.emails import send_email, send_pending_emails
from ledger_collect.jobs.smtp_transport import TransientDeliveryError
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database

TODAY = date(2026, 11, 23)
ERP = {"actor": "erp", "business_date": TODAY - timedelta(days=1)}
ALICE = {"actor": "alice", "business_date": TODAY}
SENDER = "collections@ledger.example"


@pytest.fixture
def port() -> int:
    return free_port()


def mailer_settings(settings: Settings, port: int, **changes: Any) -> Settings:
    return settings.with_changes(smtp_host="127.0.0.1", smtp_port=port, smtp_from=SENDER,
                                 smtp_timeout=5.0, **changes)


@pytest.fixture
def mailer(database: Database, settings: Settings, port: int) -> Iterator[Collections]:
    app = Collections(database, mailer_settings(settings, port))
    yield app
    app.close()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


class Acme:
    """Customer C-100 with three open invoices (one of them paid but a cent, one not due
    yet) and a credit on account."""

    def __init__(self, app: Collections) -> None:
        self.id = app.run(register_customer, number="C-100", name="Acme Société", segment="north",
                          credit_limit=Decimal("50000.00"), currency="EUR", risk_class="B",
                          source_id="md-C-100", **ERP).result
        app.run(add_contact, self.id, "jeanne", name="Jeanne Martin",
                email="jeanne@acme.example", **ERP)
        self.invoices = {}
        for number, amount, due in (("INV-1", "1234.56", TODAY - timedelta(days=40)),
                                    ("INV-2", "999999.99", TODAY - timedelta(days=10)),
                                    ("INV-3", "0.10", TODAY + timedelta(days=5))):
            self.invoices[number] = app.run(
                post_invoice, customer_number="C-100", document_number=number,
                amount=Decimal(amount), currency="EUR", posting_date=due - timedelta(days=30),
                due_date=due, source_id=f"inv-{number}", **ERP).result
        app.run(apply_payment, source_id="pay-1", customer_number="C-100",
                allocations=[("INV-2", Decimal("999999.98"))], unapplied=Decimal("7.05"),
                currency="EUR", payment_date=TODAY - timedelta(days=2), **ERP)
        catch_up(app)

    #: What each invoice still has open, to the cent.
    OPEN: ClassVar[dict[str, Decimal]] = {
        "INV-1": Decimal("1234.56"), "INV-2": Decimal("0.01"), "INV-3": Decimal("0.10")}


def email_to(app: Collections, acme: Acme, **fields: Any) -> UUID:
    values = {"to": ["ap@acme.example"], "cc": ["cfo@acme.example"],
              "bcc": ["archive@ledger.example"], "template": "statement",
              "attachments": ["open-items.pdf", "open-items.csv", "statement.pdf",
                              "statement.csv"], **fields}
    return app.run(create_email, acme.id, **values, **ALICE).result


def topics(app: Collections, aggregate_id: UUID) -> list[str]:
    return [e.topic.rsplit(".", 1)[1] for e in app.recorder.select_events(aggregate_id)]


def text_of(message: Any) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def test_the_server_receives_the_email_with_its_headers_and_attachments(
        mailer: Collections, inbox: Inbox, port: int) -> None:
    acme = Acme(mailer)
    email_id = email_to(mailer, acme)
    with mail_server(inbox, port):
        assert send_email(mailer, email_id=email_id, business_date=TODAY) == {"sent": 1}
        assert send_email(mailer, email_id=email_id, business_date=TODAY) == {"skipped": 1}
    [received] = inbox.received
    assert received.sender == SENDER
    assert received.recipients == ["ap@acme.example", "cfo@acme.example",
                                   "archive@ledger.example"]
    message = received.message
    assert (message["To"], message["Cc"], message["Bcc"]) == (
        "ap@acme.example", "cfo@acme.example", None)
    assert message["Message-ID"] == f"<{email_id.hex}.1@ledger.example>"
    assert message["Subject"] == "Account statement C-100 as of 23 November 2026"
    body = text_of(message)
    assert "Dear Jeanne Martin," in body
    assert "Open in EUR: 1,234.67 (3 items), of which overdue: 1,234.57" in body
    files = received.attachments()
    assert sorted(files) == ["C-100-open-items.csv", "C-100-open-items.pdf",
                             "C-100-statement.csv", "C-100-statement.pdf"]
    for name in ("C-100-open-items.pdf", "C-100-statement.pdf"):
        assert files[name].startswith(b"%PDF")
        text = pdf_text(files[name])
        assert "C-100" in text and "Acme Société" in text
    assert "1,234.56" in pdf_text(files["C-100-open-items.pdf"])
    rows = list(csv.DictReader(io.StringIO(files["C-100-open-items.csv"].decode())))
    assert {r["document_number"]: Decimal(r["open_amount"]) for r in rows} == Acme.OPEN
    assert [(r["due_date"], r["days_overdue"], r["amount"]) for r in rows] == [
        ("2026-10-14", "40", "1234.56"), ("2026-11-13", "10", "999999.99"),
        ("2026-11-28", "0", "0.10")]
    statement = list(csv.DictReader(io.StringIO(files["C-100-statement.csv"].decode())))
    assert [(r["kind"], r["paid_amount"], r["open_amount"]) for r in statement] == [
        ("invoice", "0.00", "1234.56"), ("invoice", "999999.98", "0.01"),
        ("invoice", "0.00", "0.10"), ("unapplied_payment", "", "-7.05")]
    assert mailer.repository.get(email_id).status == "sent"
    assert topics(mailer, email_id) == ["Created", "Sent"]


def test_a_recipient_refused_with_550_makes_the_email_partly_sent(
        mailer: Collections, inbox: Inbox, port: int) -> None:
    acme = Acme(mailer)
    email_id = email_to(mailer, acme, attachments=[])
    inbox.refuse["cfo@acme.example"] = "550 5.1.1 <cfo@acme.example>: no such user"
    with mail_server(inbox, port):
        assert send_email(mailer, email_id=email_id, business_date=TODAY) == {"partly_sent": 1}
    [received] = inbox.received
    assert received.recipients == ["ap@acme.example", "archive@ledger.example"]
    email = mailer.repository.get(email_id)
    assert email.status == "partly_sent"
    assert [(entry["recipient"], entry["outcome"], entry["error"]) for entry in email.log] == [
        ("ap@acme.example", "sent", None),
        ("cfo@acme.example", "failed", "550 5.1.1 <cfo@acme.example>: no such user"),
        ("archive@ledger.example", "sent", None)]


def test_every_recipient_refused_fails_the_email_then_corrected_it_is_sent(
        mailer: Collections, inbox: Inbox, port: int) -> None:
    acme = Acme(mailer)
    email_id = email_to(mailer, acme, cc=[], bcc=[], attachments=["statement.csv"])
    inbox.refuse["ap@acme.example"] = "550 5.1.1 mailbox unavailable"
    with mail_server(inbox, port):
        assert send_email(mailer, email_id=email_id, business_date=TODAY) == {"failed": 1}
        failed = mailer.repository.get(email_id)
        assert (failed.status, failed.log[0]["error"]) == (
            "failed", "ap@acme.example: 550 5.1.1 mailbox unavailable")
        assert inbox.received == []
        mailer.run(correct_and_resend_email, email_id, to=["billing@acme.example"], **ALICE)
        assert send_email(mailer, email_id=email_id, business_date=TODAY) == {"sent": 1}
    [received] = inbox.received
    assert received.recipients == ["billing@acme.example"]
    assert received.message["Message-ID"] == f"<{email_id.hex}.2@ledger.example>"
    assert topics(mailer, email_id) == ["Created", "Failed", "Corrected", "Sent"]


def test_a_message_refused_as_a_whole_fails_with_the_servers_reply(
        mailer: Collections, inbox: Inbox, port: int) -> None:
    acme = Acme(mailer)
    email_id = email_to(mailer, acme, attachments=[])
    inbox.data_reply = "554 5.7.1 Message rejected as spam"
    with mail_server(inbox, port):
        assert send_email(mailer, email_id=email_id, business_date=TODAY) == {"failed": 1}
    assert mailer.repository.get(email_id).log[0]["error"] == "554 5.7.1 Message rejected as spam"


def test_while_the_server_is_down_the_email_stays_pending_and_the_job_raises(
        mailer: Collections, inbox: Inbox, port: int) -> None:
    acme = Acme(mailer)
    email_id = email_to(mailer, acme)
    with pytest.raises(TransientDeliveryError, match=f"127.0.0.1:{port}"):
        send_email(mailer, email_id=email_id, business_date=TODAY)
    assert mailer.repository.get(email_id).status == "pending"
    assert topics(mailer, email_id) == ["Created"]
    inbox.refuse = {"ap@acme.example": "451 4.3.0 try again later",
                    "cfo@acme.example": "451 4.3.0 try again later",
                    "archive@ledger.example": "451 4.3.0 try again later"}
    with mail_server(inbox, port):
        with pytest.raises(TransientDeliveryError, match="put every recipient off"):
            send_email(mailer, email_id=email_id, business_date=TODAY)
        assert mailer.repository.get(email_id).status == "pending"
        inbox.refuse = {}
        assert send_email(mailer, email_id=email_id, business_date=TODAY) == {"sent": 1}
        assert send_email(mailer, email_id=email_id, business_date=TODAY) == {"skipped": 1}
    assert len(inbox.received) == 1
    assert topics(mailer, email_id) == ["Created", "Sent"]


def test_an_email_being_sent_by_another_worker_is_left_to_it(
        mailer: Collections, inbox: Inbox, port: int) -> None:
    acme = Acme(mailer)
    email_id = email_to(mailer, acme)
    with mailer.database.connect() as other, mail_server(inbox, port):
        other.execute("SELECT pg_advisory_lock(%s, %s)", (0x4D41494C, email_id.int & 0x7FFFFFFF))
        assert send_email(mailer, email_id=email_id, business_date=TODAY) == {"busy": 1}
        other.execute("SELECT pg_advisory_unlock_all()")
        assert send_email(mailer, email_id=email_id, business_date=TODAY) == {"sent": 1}
    assert len(inbox.received) == 1


def levels(app: Collections, acme: Acme) -> dict[str, int]:
    return {n: app.repository.get(i).dunning_level for n, i in acme.invoices.items()}


def test_a_dunning_letter_raises_the_levels_it_announces_once_it_is_delivered(
        mailer: Collections, inbox: Inbox, port: int) -> None:
    acme = Acme(mailer)
    inv1, inv2, inv3 = acme.invoices.values()
    refused = email_to(mailer, acme, template="dunning", cc=[], bcc=[], attachments=[],
                       dunning=[(inv1, 2), (inv2, 1), (inv3, 0)], fee=Decimal("5.00"))
    inbox.refuse["ap@acme.example"] = "550 5.1.1 unknown"
    with mail_server(inbox, port):
        assert send_email(mailer, email_id=refused, business_date=TODAY) == {"failed": 1}
        assert levels(mailer, acme) == {"INV-1": 0, "INV-2": 0, "INV-3": 0}
        inbox.refuse = {}
        letter = email_to(mailer, acme, template="dunning", language="fr", attachments=[],
                          dunning=[(inv1, 2), (inv2, 1), (inv3, 0)], fee=Decimal("5.00"))
        assert mailer.repository.get(letter).level == 2
        assert send_email(mailer, email_id=letter, business_date=TODAY) == {"sent": 1}
        assert levels(mailer, acme) == {"INV-1": 2, "INV-2": 1, "INV-3": 0}
        lower = email_to(mailer, acme, template="dunning", attachments=[], cc=["x@acme.example"],
                         dunning=[(inv1, 1), (inv2, 3)])
        inbox.refuse["x@acme.example"] = "550 no such user"
        assert send_email(mailer, email_id=lower, business_date=TODAY) == {"partly_sent": 1}
        assert send_email(mailer, email_id=lower, business_date=TODAY) == {"skipped": 1}
    assert levels(mailer, acme) == {"INV-1": 2, "INV-2": 3, "INV-3": 0}
    assert [topics(mailer, i).count("DunningLevelRaised") for i in (inv1, inv2, inv3)] == [
        1, 2, 0]
    french = inbox.received[0].message
    assert french["Subject"] == "Deuxième rappel C-100"
    body = text_of(french)
    assert "- INV-1, échéance 14 octobre 2026 : 1\u00a0234,56 EUR (40 jours de retard)" in body
    assert "Frais de rappel : 5,00 EUR" in body


def test_the_sweep_sends_what_was_left_pending_once(
        mailer: Collections, inbox: Inbox, port: int) -> None:
    acme = Acme(mailer)
    first, second = email_to(mailer, acme), email_to(mailer, acme, attachments=[])
    catch_up(mailer)
    seen: list[tuple[int, int]] = []
    assert send_pending_emails(mailer, business_date=TODAY) == {}  # too young: their jobs run
    assert send_pending_emails(mailer, business_date=TODAY, older_than=timedelta(0),
                               progress=lambda d, t: seen.append((d, t))) == {"deferred": 2}
    with mail_server(inbox, port):
        assert send_pending_emails(mailer, business_date=TODAY,
                                   older_than=timedelta(0)) == {"sent": 2}
        catch_up(mailer)
        assert send_pending_emails(mailer, business_date=TODAY, older_than=timedelta(0)) == {}
    assert seen == [(1, 2), (2, 2)]
    assert sorted(r.message["Message-ID"] for r in inbox.received) == sorted(
        f"<{i.hex}.1@ledger.example>" for i in (first, second))


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_over_tls_with_a_self_signed_certificate(
        database: Database, settings: Settings, inbox: Inbox, port: int, tmp_path: Path,
        security: str) -> None:
    context, certificate = self_signed(tmp_path)
    app = Collections(database, mailer_settings(settings, port, smtp_security=security,
                                                smtp_ca_file=certificate))
    try:
        acme = Acme(app)
        email_id = email_to(app, acme, attachments=["open-items.pdf"], zipped=True)
        server = ({"tls_context": context, "require_starttls": True} if security == "starttls"
                  else {"ssl_context": context})
        with mail_server(inbox, port, **server):
            assert send_email(app, email_id=email_id, business_date=TODAY) == {"sent": 1}
        [received] = inbox.received
        assert list(received.attachments()) == ["C-100-documents.zip"]
    finally:
        app.close()


def test_an_untrusted_certificate_is_a_transient_fault(
        mailer: Collections, inbox: Inbox, port: int, tmp_path: Path,
        database: Database, settings: Settings) -> None:
    context, _ = self_signed(tmp_path)
    app = Collections(database, mailer_settings(settings, port, smtp_security="starttls"))
    try:
        email_id = email_to(app, Acme(app))
        with mail_server(inbox, port, tls_context=context, require_starttls=True), \
                pytest.raises(TransientDeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            send_email(app, email_id=email_id, business_date=TODAY)
        assert app.repository.get(email_id).status == "pending"
    finally:
        app.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_mailer_logs_in_when_told_to(
        database: Database, settings: Settings, inbox: Inbox, port: int) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    app = Collections(database, mailer_settings(settings, port, smtp_username="mailer",
                                                smtp_password="wrong"))
    good = Collections(database, mailer_settings(settings, port, smtp_username="mailer",
                                                 smtp_password="s3cret"))
    try:
        email_id = email_to(app, Acme(app), attachments=[])
        with mail_server(inbox, port, authenticator=authenticator, auth_require_tls=False,
                         auth_required=True, auth_exclude_mechanism=["LOGIN"]):
            with pytest.raises(TransientDeliveryError, match="refused the login"):
                send_email(app, email_id=email_id, business_date=TODAY)
            assert send_email(good, email_id=email_id, business_date=TODAY) == {"sent": 1}
        assert logins == [(b"mailer", b"wrong"), (b"mailer", b"s3cret")]
    finally:
        app.close()
        good.close()


def test_events_of_an_email_name_no_address_in_clear(
        mailer: Collections, inbox: Inbox, port: int) -> None:
    acme = Acme(mailer)
    email_id = email_to(mailer, acme, attachments=[])
    inbox.refuse["cfo@acme.example"] = "550 <cfo@acme.example> unknown"
    with mail_server(inbox, port):
        send_email(mailer, email_id=email_id, business_date=TODAY)
    stored = b"".join(bytes(e.state) for e in mailer.recorder.select_events(email_id))
    assert b"acme.example" not in stored and b"ledger.example" not in stored
    assert isinstance(mailer.repository.get(email_id), CollectionEmail)
    assert isinstance(mailer.repository.get(acme.invoices["INV-1"]), Invoice)


def test_the_mail_server_is_configured_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "LEDGER_SMTP_HOST": "mail.example", "LEDGER_SMTP_PORT": "2525",
        "LEDGER_SMTP_SECURITY": "STARTTLS", "LEDGER_SMTP_USERNAME": "mailer",
        "LEDGER_SMTP_PASSWORD": "s3cret", "LEDGER_SMTP_FROM": "ar@ledger.example",
        "LEDGER_SMTP_TIMEOUT": "2.5", "LEDGER_SMTP_CA_FILE": str(tmp_path / "ca.pem")})
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security,
            settings.smtp_username, settings.smtp_password, settings.smtp_from,
            settings.smtp_timeout, settings.smtp_ca_file) == (
        "mail.example", 2525, "starttls", "mailer", "s3cret", "ar@ledger.example", 2.5,
        tmp_path / "ca.pem")
    assert (Settings.from_env({}).smtp_port, Settings.from_env({}).smtp_security) == (None, "none")


def test_an_unknown_security_is_a_configuration_error(
        database: Database, settings: Settings, port: int) -> None:
    app = Collections(database, mailer_settings(settings, port, smtp_security="ssl"))
    try:
        email_id = email_to(app, Acme(app), attachments=[])
        with pytest.raises(ValueError, match="LEDGER_SMTP_SECURITY is 'ssl'; it must be one of "
                                             "none, starttls, tls"):
            send_email(app, email_id=email_id, business_date=TODAY)
        assert app.repository.get(email_id).status == "pending"
    finally:
        app.close()
