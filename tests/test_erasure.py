"""GDPR erasure: the request and its outcome recorded without personal data, the key deleted,
what legal retention requires kept restricted, every event still loading."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands import email_commands as em
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands import retention_commands as rt
from ledger_collect.commands.application import Collections
from ledger_collect.compliance.erasure import (
    erase_customer,
    expire_restricted,
    restricted_personal_data,
)
from ledger_collect.domain.base import ERASED, NotFoundError, ValidationError
from ledger_collect.domain.erasure_request import ErasureRequest
from ledger_collect.projections.engine import catch_up

D = date(2026, 11, 2)
WHO = {"actor": "alice", "business_date": D}


def customer_with_dispute(app: Collections, number: str = "E-1"):
    cid = app.run(rc.register_customer, number=number, name="Acme SARL", segment="EU-1",
                  credit_limit=Decimal(10000), currency="EUR", risk_class="C",
                  source_id=f"cust-{number}", actor="erp", business_date=D).result
    app.run(rc.add_contact, cid, "k1", name="Jeanne Martin", email="jeanne@acme.example",
            phone="+33 1 45", **WHO)
    app.run(rc.add_customer_note, cid, "n1", "Call after the board meeting", **WHO)
    invoice = app.run(rc.post_invoice, customer_number=number, document_number=f"{number}-1",
                      amount=Decimal("500.00"), currency="EUR", posting_date=D - timedelta(60),
                      due_date=D - timedelta(30), source_id=f"inv-{number}", actor="erp",
                      business_date=D).result
    dispute = app.run(cw.open_dispute, cid, [invoice], reason="price", amount=Decimal("100.00"),
                      processor="bob", note="Jeanne says the price is wrong", **WHO).result
    return cid, invoice, dispute


def test_erasure_keeps_retained_fields_restricted_and_erases_the_rest(app, database):
    cid, invoice, dispute = customer_with_dispute(app)
    catch_up(app)
    outcome = erase_customer(app, cid, "GDPR Art. 17(1)(a)", "carol", today=D)
    assert outcome.status == "completed" and outcome.erased_now
    fresh = Collections(database)  # nothing cached: reads what is stored
    try:
        customer = fresh.repository.get(cid)
    finally:
        fresh.close()
    assert customer.contacts["k1"]["name"] == ERASED and customer.notes == {"n1": ERASED}
    kept = restricted_personal_data(app, cid)
    assert [(r.record_class, r.field, r.value) for r in kept] == [
        ("dispute", "note", "Jeanne says the price is wrong")]
    assert outcome.restricted_records == 1 and outcome.retained_until is None
    again = erase_customer(app, cid, "GDPR Art. 17(1)(a)", "carol", today=D)
    assert again.status == "completed" and not again.erased_now
    request = app.repository.get(ErasureRequest.create_id(cid))
    assert request.basis == "GDPR Art. 17(1)(a)" and request.erased_on == D
    assert expire_restricted(app, D) == 0


def test_unknown_customer_and_empty_basis_are_refused(app, database):
    cid, _, _ = customer_with_dispute(app)
    with pytest.raises(NotFoundError):
        erase_customer(app, ErasureRequest.create_id(cid), "GDPR", "carol", today=D)
    with pytest.raises(ValidationError):
        erase_customer(app, cid, "  ", "carol", today=D)


def test_a_legal_hold_suspends_the_erasure_until_released(app, database):
    cid, _, dispute = customer_with_dispute(app, "E-2")
    app.run(rt.place_legal_hold, "dispute", dispute, reference="MATTER-7", **WHO)
    catch_up(app)
    held = erase_customer(app, cid, "GDPR Art. 17(1)(a)", "carol", today=D)
    assert (held.status, held.hold_reference, held.erased_now) == ("suspended", "MATTER-7",
                                                                   False)
    assert app.repository.get(cid).contacts["k1"]["name"] == "Jeanne Martin"
    assert restricted_personal_data(app, cid) == []
    app.run(rt.release_legal_hold, dispute, **WHO)
    catch_up(app)
    done = erase_customer(app, cid, "GDPR Art. 17(1)(a)", "carol", today=D)
    assert done.status == "completed" and done.hold_reference is None
    request = app.repository.get(ErasureRequest.create_id(cid))
    assert [type(e).__name__ for e in app.events.get(request.id)] == [
        "Requested", "Suspended", "RequestedAgain", "Completed"]


def test_queued_emails_are_cancelled_and_sent_ones_kept_restricted_until_their_end(app,
                                                                                   database):
    cid, _, _ = customer_with_dispute(app, "E-3")
    sent = app.run(em.create_email, cid, to=["jeanne@acme.example"], template="statement",
                   **WHO).result
    app.run(em.mark_email_sent, sent, **WHO)
    queued = app.run(em.create_email, cid, to=["jeanne@acme.example"], template="statement",
                     **WHO).result
    catch_up(app)
    erase_customer(app, cid, "GDPR Art. 17(1)(a)", "carol", today=D)
    assert app.repository.get(queued).status == "failed"
    assert app.repository.get(sent).status == "sent"
    kept = {(r.stream_id, r.field): r for r in restricted_personal_data(app, cid)}
    # The sent email is kept six years from the day it went; the queued one never went out.
    assert kept[(sent, "to")].value == ["jeanne@acme.example"]
    end = kept[(sent, "to")].retained_until
    assert end == date(2032, 11, 2)
    assert (queued, "to") in kept and kept[(queued, "to")].retained_until is None
    assert expire_restricted(app, end) == 0  # kept through its last day
    assert expire_restricted(app, end + timedelta(days=1)) > 0
    left = restricted_personal_data(app, cid)
    assert {r.stream_id for r in left} == {queued, next(iter(
        r.stream_id for r in left if r.record_class == "dispute"))}


def test_the_erase_command_takes_a_customer_number(app, database, settings):
    from click.testing import CliRunner

    from ledger_collect.cli import cli

    cid, _, dispute = customer_with_dispute(app, "E-4")
    env = {"LEDGER_DATABASE_URL": settings.database_url, "LEDGER_SCHEMA": settings.schema,
           "LEDGER_MASTER_KEY": settings.master_key, "LEDGER_DATA_DIR": str(settings.data_dir),
           "LEDGER_MASTER_KEY_FILE": None}
    app.run(rt.place_legal_hold, "customer", cid, reference="MATTER-9", **WHO)
    held = CliRunner().invoke(cli, ["erase", "E-4", "--basis", "GDPR Art. 17"], env=env)
    assert held.exit_code == 1 and "MATTER-9" in held.output, (held.output, held.exception)
    app.run(rt.release_legal_hold, cid, **WHO)
    done = CliRunner().invoke(cli, ["erase", "E-4", "--basis", "GDPR Art. 17"], env=env)
    assert done.exit_code == 0, done.output
    assert "E-4: erased; 1 personal fields kept restricted" in done.output
    unknown = CliRunner().invoke(cli, ["erase", "E-404", "--basis", "GDPR"], env=env)
    assert unknown.exit_code == 1 and "does not exist" in unknown.output
