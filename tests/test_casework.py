"""Follow-ups, customer contacts, collection emails and activities: given a customer, when a
casework command, then its events (or a clear refusal) — and their personal data sealed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    add_dispute_note,
    close_activity,
    complete_resubmission,
    correct_and_resend_email,
    create_activity,
    create_email,
    create_resubmission,
    link_to_contact,
    mark_email_failed,
    mark_email_partly_sent,
    mark_email_sent,
    move_resubmission,
    open_dispute,
    record_contact,
    reschedule_activity,
)
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.commands.receivable_commands import (
    add_contact,
    clear_invoice,
    post_invoice,
    register_customer,
)
from ledger_collect.domain.activity import ActivityClosedError
from ledger_collect.domain.base import ERASED, NotFoundError, ValidationError
from ledger_collect.domain.customer import UnknownContactError
from ledger_collect.domain.dispute import IllegalTransitionError, WrongCustomerError
from ledger_collect.domain.invoice import InvoiceClosedError
from ledger_collect.domain.resubmission import FollowUpDateError, ResubmissionCompletedError

pytestmark = pytest.mark.store("memory")  # domain scenarios: no database needed

D = date(2026, 11, 23)
NEXT_DAY = D + timedelta(days=1)
ERP = {"actor": "erp", "business_date": D}
ALICE = {"actor": "alice", "business_date": D}


def given_customer(app: Collections, number: str = "C1"):
    customer_id = app.run(
        register_customer, number=number, name=f"Customer {number}", segment="EU-1",
        credit_limit=Decimal(5000),
        currency="EUR", risk_class="B", source_id=f"cust-{number}", **ERP).result
    app.run(add_contact, customer_id, "k1", name="Jeanne Martin", email="jeanne@acme.example",
            phone="+33 1 23 45 67 89", **ALICE)
    return customer_id


def given_invoice(app: Collections, number: str, customer: str = "C1"):
    return app.run(post_invoice, customer_number=customer, document_number=number,
                   amount=Decimal("200.00"), currency="EUR",
                   posting_date=date(2026, 9, 1), due_date=date(2026, 10, 1),
                   source_id=f"inv-{number}", **ERP).result


def event_names(app, aggregate_id) -> list[str]:
    return [type(e).__name__ for e in app.repository.event_store.get(aggregate_id)]


# -- resubmissions (follow-ups) ---------------------------------------------------------------
def test_a_follow_up_for_today_is_refused_for_tomorrow_accepted(app):
    customer_id = given_customer(app)
    with pytest.raises(FollowUpDateError, match="2026-11-23 must be after 2026-11-23"):
        app.run(create_resubmission, customer_id, follow_up_date=D, reason="on holiday", **ALICE)
    resubmission_id = app.run(create_resubmission, customer_id, follow_up_date=NEXT_DAY,
                              reason="on holiday", **ALICE).result
    resubmission = app.repository.get(resubmission_id)
    assert (resubmission.follow_up_date, resubmission.status) == (NEXT_DAY, "open")
    assert resubmission.is_customer_level and resubmission.reason == "on holiday"


def test_an_invoice_level_follow_up_takes_open_invoices_of_that_customer_only(app):
    customer_id = given_customer(app)
    inv1, inv2 = given_invoice(app, "INV1"), given_invoice(app, "INV2")
    given_customer(app, "C2")
    foreign = given_invoice(app, "INV9", customer="C2")
    with pytest.raises(WrongCustomerError, match="INV9 belongs to another customer"):
        app.run(create_resubmission, customer_id, invoice_ids=[inv1, foreign],
                follow_up_date=NEXT_DAY, reason="waiting for approval", **ALICE)
    app.run(clear_invoice, source_id="clr-2", invoice_number="INV2", **ERP)
    with pytest.raises(InvoiceClosedError, match="INV2 is cleared"):
        app.run(create_resubmission, customer_id, invoice_ids=[inv2], follow_up_date=NEXT_DAY,
                reason="waiting for approval", **ALICE)
    resubmission_id = app.run(create_resubmission, customer_id, invoice_ids=[inv1],
                              follow_up_date=NEXT_DAY,
                              reason="waiting for approval", **ALICE).result
    assert app.repository.get(resubmission_id).invoice_ids == [inv1]


def test_a_follow_up_is_moved_with_a_reason_then_completed_and_read_only(app):
    customer_id = given_customer(app)
    resubmission_id = app.run(create_resubmission, customer_id, follow_up_date=date(2026, 12, 1),
                              reason="on holiday", **ALICE).result
    later = {"actor": "bob", "business_date": date(2026, 11, 30)}
    with pytest.raises(FollowUpDateError, match="must be after 2026-11-30"):
        app.run(move_resubmission, resubmission_id, date(2026, 11, 30), reason="back early",
                **later)
    with pytest.raises(ValidationError, match="say why"):
        app.run(move_resubmission, resubmission_id, date(2026, 12, 8), reason="  ", **later)
    app.run(move_resubmission, resubmission_id, date(2026, 12, 8), reason="holiday extended",
            **later)
    moved = app.repository.get(resubmission_id)
    assert moved.follow_up_date == date(2026, 12, 8)
    assert moved.moves == [{"from": date(2026, 12, 1), "to": date(2026, 12, 8),
                            "reason": "holiday extended", "by": "bob",
                            "on": date(2026, 11, 30)}]
    app.run(complete_resubmission, resubmission_id, actor="bob", business_date=date(2026, 12, 8))
    assert app.repository.get(resubmission_id).status == "completed"
    with pytest.raises(ResubmissionCompletedError, match="completed on 2026-12-08"):
        app.run(move_resubmission, resubmission_id, date(2026, 12, 20), reason="again",
                actor="bob", business_date=date(2026, 12, 9))
    with pytest.raises(ResubmissionCompletedError):
        app.run(complete_resubmission, resubmission_id, **ALICE)
    assert event_names(app, resubmission_id) == ["Created", "Moved", "Completed"]


# -- customer contacts ------------------------------------------------------------------------
def test_a_conversation_with_an_unknown_contact_person_is_refused(app):
    customer_id = given_customer(app)
    with pytest.raises(UnknownContactError, match="customer C1 has no collection contact k2"):
        app.run(record_contact, customer_id, channel="phone", result="reached",
                contact_person_id="k2", summary="talked", **ALICE)
    with pytest.raises(ValidationError, match="name the collection contact"):
        app.run(record_contact, customer_id, channel="phone", result="promised", summary="x",
                **ALICE)
    with pytest.raises(ValidationError, match="channel 'fax' is not one of"):
        app.run(record_contact, customer_id, channel="fax", result="no_answer", **ALICE)
    with pytest.raises(ValidationError, match="result 'busy' is not one of"):
        app.run(record_contact, customer_id, channel="phone", result="busy", **ALICE)
    with pytest.raises(ValidationError, match="2026-11-24 has not happened yet"):
        app.run(record_contact, customer_id, channel="phone", result="no_answer",
                contact_date=NEXT_DAY, **ALICE)


def test_a_conversation_is_recorded_with_its_specialist_and_result(app):
    customer_id = given_customer(app)
    contact_id = app.run(record_contact, customer_id, channel="phone", result="reached",
                         contact_person_id="k1", summary="will check with AP",
                         notes="prefers calls after 2pm", **ALICE).result
    contact = app.repository.get(contact_id)
    assert (contact.channel, contact.result, contact.specialist) == ("phone", "reached", "alice")
    assert (contact.contact_person_id, contact.contact_date) == ("k1", D)
    assert (contact.summary, contact.notes) == ("will check with AP", "prefers calls after 2pm")
    nobody = app.run(record_contact, customer_id, channel="phone", result="no_answer",
                     specialist="bob", contact_date=D - timedelta(days=1), **ALICE).result
    assert app.repository.get(nobody).contact_person_id is None


def test_what_came_out_of_a_conversation_is_linked_to_it(app):
    customer_id = given_customer(app)
    invoice_id = given_invoice(app, "INV1")
    contact_id = app.run(record_contact, customer_id, channel="phone", result="disputed",
                         contact_person_id="k1", **ALICE).result
    dispute_id = app.run(open_dispute, customer_id, [invoice_id], amount=Decimal("50.00"),
                         reason="price", processor="alice", **ALICE).result
    resubmission_id = app.run(create_resubmission, customer_id, follow_up_date=NEXT_DAY,
                              reason="call back", **ALICE).result
    promise_id = app.run(record_promise, invoice_id=invoice_id, amount=Decimal("150.00"),
                         promised_date=NEXT_DAY, **ALICE).result
    assert app.run(link_to_contact, contact_id, dispute_ids=[dispute_id], promise_ids=[promise_id],
                   resubmission_ids=[resubmission_id], **ALICE).result == 3
    assert app.run(link_to_contact, contact_id, dispute_ids=[dispute_id], **ALICE).result == 0
    contact = app.repository.get(contact_id)
    assert (contact.dispute_ids, contact.resubmission_ids) == ([dispute_id], [resubmission_id])
    assert contact.promise_ids == [promise_id]
    assert event_names(app, contact_id) == ["Recorded", "Linked"]


def test_links_to_unknown_records_wrong_kinds_or_other_customers_are_refused(app):
    customer_id = given_customer(app)
    other_id = given_customer(app, "C2")
    contact_id = app.run(record_contact, customer_id, channel="email", result="no_answer",
                         **ALICE).result
    foreign = app.run(create_resubmission, other_id, follow_up_date=NEXT_DAY, reason="x",
                      **ALICE).result
    mine = app.run(create_resubmission, customer_id, follow_up_date=NEXT_DAY, reason="x",
                   **ALICE).result
    with pytest.raises(WrongCustomerError, match="another customer"):
        app.run(link_to_contact, contact_id, resubmission_ids=[foreign], **ALICE)
    with pytest.raises(NotFoundError, match=f"promise {mine} does not exist"):
        app.run(link_to_contact, contact_id, promise_ids=[mine], **ALICE)
    with pytest.raises(NotFoundError, match="dispute .* does not exist"):
        app.run(link_to_contact, contact_id, dispute_ids=[customer_id], **ALICE)
    assert event_names(app, contact_id) == ["Recorded"]


# -- collection emails ------------------------------------------------------------------------
def new_email(app, customer_id, **extra):
    fields = {"to": ["jeanne@acme.example"], "cc": ["ap@acme.example"], "template": "reminder",
                  "attachments": ["open-items.pdf", "statement.pdf"], "zipped": True}
    fields.update(extra)
    return app.run(create_email, customer_id, **fields, **ALICE).result


def test_an_email_needs_valid_distinct_recipients(app):
    customer_id = given_customer(app)
    with pytest.raises(ValidationError, match="at least one recipient in to"):
        new_email(app, customer_id, to=[])
    with pytest.raises(ValidationError, match="'jeanne.acme.example' in to is not an email"):
        new_email(app, customer_id, to=["jeanne.acme.example"])
    with pytest.raises(ValidationError, match="JEANNE@acme.example is named twice"):
        new_email(app, customer_id, bcc=["JEANNE@acme.example"])
    with pytest.raises(ValidationError, match="nothing to zip"):
        new_email(app, customer_id, attachments=[])


def test_a_sent_email_logs_every_recipient_and_its_outcome_is_final(app):
    customer_id = given_customer(app)
    email_id = new_email(app, customer_id)
    email = app.repository.get(email_id)
    assert (email.status, email.attempt, email.zipped) == ("pending", 1, True)
    app.run(mark_email_sent, email_id, actor="mailer", business_date=D)
    email = app.repository.get(email_id)
    assert email.status == "sent"
    assert [(e["recipient"], e["outcome"]) for e in email.log] == [
        ("jeanne@acme.example", "sent"), ("ap@acme.example", "sent")]
    for mark in (lambda: app.run(mark_email_failed, email_id, "550", **ALICE).result,
                 lambda: app.run(mark_email_sent, email_id, **ALICE).result,
                 lambda: app.run(correct_and_resend_email, email_id, to=["x@acme.example"],
                                 **ALICE).result):
        with pytest.raises(IllegalTransitionError, match="email that is sent cannot become"):
            mark()


def test_a_failed_email_is_corrected_resent_and_partly_sent(app):
    customer_id = given_customer(app)
    email_id = new_email(app, customer_id)
    with pytest.raises(IllegalTransitionError, match="pending cannot become pending"):
        app.run(correct_and_resend_email, email_id, to=["jeanne@acme.example"], **ALICE)
    app.run(mark_email_failed, email_id, "connection refused", actor="mailer", business_date=D)
    assert app.repository.get(email_id).status == "failed"
    app.run(correct_and_resend_email, email_id, to=["jeanne@acme.example"],
            cc=["ap@acme.example", "billing@acme.example"], **ALICE)
    email = app.repository.get(email_id)
    assert (email.status, email.attempt) == ("pending", 2)
    assert email.cc == ["ap@acme.example", "billing@acme.example"]
    with pytest.raises(ValidationError, match="nobody@acme.example is not a recipient"):
        app.run(mark_email_partly_sent, email_id, {"nobody@acme.example": "550"}, **ALICE)
    with pytest.raises(ValidationError, match="reached none of its recipients: mark it failed"):
        app.run(mark_email_partly_sent, email_id, dict.fromkeys(email.recipients, "550"), **ALICE)
    app.run(mark_email_partly_sent, email_id, {"billing@acme.example": "550 no such user"},
            actor="mailer", business_date=NEXT_DAY)
    email = app.repository.get(email_id)
    assert email.status == "partly_sent"
    assert [(e["attempt"], e["recipient"], e["outcome"], e["error"]) for e in email.log] == [
        (1, "jeanne@acme.example", "failed", "connection refused"),
        (1, "ap@acme.example", "failed", "connection refused"),
        (2, "jeanne@acme.example", "sent", None),
        (2, "ap@acme.example", "sent", None),
        (2, "billing@acme.example", "failed", "550 no such user"),
    ]
    with pytest.raises(IllegalTransitionError, match="partly sent cannot become pending"):
        app.run(correct_and_resend_email, email_id, to=["jeanne@acme.example"], **ALICE)


def test_an_email_about_a_conversation_of_another_customer_is_refused(app):
    customer_id, other_id = given_customer(app), given_customer(app, "C2")
    contact_id = app.run(record_contact, other_id, channel="phone", result="no_answer",
                         **ALICE).result
    with pytest.raises(WrongCustomerError, match="another customer"):
        new_email(app, customer_id, contact_id=contact_id)
    mine = app.run(record_contact, customer_id, channel="phone", result="no_answer", **ALICE).result
    assert app.repository.get(new_email(app, customer_id, contact_id=mine)).contact_id == mine


# -- activities -------------------------------------------------------------------------------
def test_an_activity_is_due_today_or_later_and_read_only_once_closed(app):
    customer_id = given_customer(app)
    with pytest.raises(ValidationError, match="cannot be due on 2026-11-22"):
        app.run(create_activity, customer_id, specialist="alice", due_date=D - timedelta(days=1),
                description="call back", **ALICE)
    activity_id = app.run(create_activity, customer_id, specialist="alice", due_date=D,
                          description="call back", **ALICE).result
    activity = app.repository.get(activity_id)
    assert (activity.status, activity.is_overdue(D), activity.is_overdue(NEXT_DAY)) == (
        "open", False, True)
    app.run(reschedule_activity, activity_id, NEXT_DAY, **ALICE)
    app.run(close_activity, activity_id, note="statement sent", actor="alice",
            business_date=NEXT_DAY)
    activity = app.repository.get(activity_id)
    assert (activity.status, activity.closed_on, activity.closing_note, activity.due_date) == (
        "closed", NEXT_DAY, "statement sent", NEXT_DAY)
    with pytest.raises(ActivityClosedError, match="closed on 2026-11-24"):
        app.run(close_activity, activity_id, **ALICE)
    with pytest.raises(ActivityClosedError):
        app.run(reschedule_activity, activity_id, date(2026, 12, 1), **ALICE)
    assert event_names(app, activity_id) == ["Created", "Rescheduled", "Closed"]


def test_an_activity_for_an_unknown_customer_is_refused(app):
    from ledger_collect.domain.customer import Customer

    with pytest.raises(NotFoundError, match="customer .* does not exist"):
        app.run(create_activity, Customer.create_id("NOPE"), specialist="alice", due_date=D,
                description="call back", **ALICE)


# -- personal data ----------------------------------------------------------------------------
SECRETS = ["Pallets arrived crushed", "Dupont admits the delay", "Jeanne promised Friday",
           "jeanne@acme.example", "ap@acme.example", "Waiting for Mr Leroy",
           "Call Jeanne on her mobile"]


def given_casework_with_personal_data(app):
    customer_id = given_customer(app)
    invoice_id = given_invoice(app, "INV1")
    dispute_id = app.run(open_dispute, customer_id, [invoice_id], amount=Decimal("50.00"),
                         reason="quality", processor="alice", note=SECRETS[0], **ALICE).result
    app.run(add_dispute_note, dispute_id, SECRETS[1], **ALICE)
    contact_id = app.run(record_contact, customer_id, channel="phone", result="promised",
                         contact_person_id="k1", summary=SECRETS[2], **ALICE).result
    email_id = new_email(app, customer_id)
    resubmission_id = app.run(create_resubmission, customer_id, follow_up_date=NEXT_DAY,
                              reason=SECRETS[5], **ALICE).result
    activity_id = app.run(create_activity, customer_id, specialist="alice", due_date=NEXT_DAY,
                          description=SECRETS[6], **ALICE).result
    return customer_id, dispute_id, contact_id, email_id, resubmission_id, activity_id


@pytest.mark.store("postgres")  # what PostgreSQL holds, read by another app
def test_personal_fields_are_not_in_the_stored_bytes_but_read_back(app, database):
    _, dispute_id, contact_id, email_id, resubmission_id, activity_id = (
        given_casework_with_personal_data(app))
    with database.connect() as conn:
        states = [bytes(row[0]) for row in conn.execute("SELECT state FROM collections_events")]
    assert len(states) >= 8
    assert any(b"50.00" in state for state in states)  # amounts stay readable
    for secret in SECRETS:
        assert not any(secret.encode() in state for state in states), secret
    assert list(app.repository.get(dispute_id).notes.values()) == SECRETS[:2]
    assert app.repository.get(contact_id).summary == SECRETS[2]
    assert app.repository.get(email_id).recipients == SECRETS[3:5]
    assert app.repository.get(resubmission_id).reason == SECRETS[5]
    assert app.repository.get(activity_id).description == SECRETS[6]


@pytest.mark.store("postgres")  # what PostgreSQL holds, read by another app
def test_after_erasure_casework_still_loads_with_amounts_and_dates(app, database):
    customer_id, dispute_id, contact_id, email_id, resubmission_id, activity_id = (
        given_casework_with_personal_data(app))
    app.run(mark_email_partly_sent, email_id, {"ap@acme.example": "550 unknown ap@acme.example"},
            **ALICE)
    app.keyring.erase(customer_id, "GDPR request 42")
    fresh = Collections(database)
    try:
        dispute = fresh.repository.get(dispute_id)
        assert list(dispute.notes.values()) == [ERASED, ERASED]
        assert dispute.original_amount == Decimal("50.00") and dispute.opened_on == D
        assert fresh.repository.get(contact_id).summary == ERASED
        email = fresh.repository.get(email_id)
        assert (email.status, email.to) == ("partly_sent", [ERASED])
        assert email.log[-1]["recipient"] == ERASED
        resubmission = fresh.repository.get(resubmission_id)
        assert (resubmission.reason, resubmission.follow_up_date) == (ERASED, NEXT_DAY)
        assert fresh.repository.get(activity_id).description == ERASED
    finally:
        fresh.close()


def test_a_promise_made_during_a_conversation_is_linked_to_it(app):
    customer_id = given_customer(app)
    invoice_id = given_invoice(app, "INV1")
    contact_id = app.run(record_contact, customer_id, channel="phone", result="promised",
                         contact_person_id="k1", **ALICE).result
    promise_id = app.run(record_promise, invoice_id=invoice_id, amount=Decimal("80.00"),
                         promised_date=NEXT_DAY, contact_id=contact_id, **ALICE).result
    assert app.repository.get(contact_id).promise_ids == [promise_id]
    assert app.repository.get(promise_id).contact_id == contact_id


def test_a_promise_cannot_be_linked_to_another_customers_conversation(app):
    given_customer(app, "C1")
    other_customer = given_customer(app, "C2")
    invoice_id = given_invoice(app, "INV1")
    foreign_contact = app.run(record_contact, other_customer, channel="phone", result="promised",
                              contact_person_id="k1", **ALICE).result
    with pytest.raises(WrongCustomerError, match="held with another customer"):
        app.run(record_promise, invoice_id=invoice_id, amount=Decimal("80.00"),
                promised_date=NEXT_DAY, contact_id=foreign_contact, **ALICE)
    assert app.repository.get(invoice_id).open_promise_id is None
    assert app.repository.get(foreign_contact).promise_ids == []
