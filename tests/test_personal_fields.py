"""Fields newly classified as personal: an email's template and attachments, the contact person
reached in a conversation. Events stored before they were sealed still load as they were; new
ones are sealed and read back, and read ``[erased]`` once the customer is erased."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import create_email, record_contact
from ledger_collect.commands.receivable_commands import add_contact, register_customer
from ledger_collect.domain.base import ERASED, mark_personal
from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.email import CollectionEmail

pytestmark = pytest.mark.store("memory")  # domain scenarios: no database needed

WHEN = {"actor": "alice", "business_date": date(2026, 11, 2)}


def given(app: Collections):
    customer = app.run(register_customer, number="C1", name="Acme", segment="north",
                       credit_limit=Decimal(1000), currency="EUR",
                       risk_class="B", source_id="md-C1", **WHEN).result
    app.run(add_contact, customer, "jeanne", name="Jeanne", **WHEN)
    return customer


def write(app: Collections, customer):
    email = app.run(create_email, customer, to=["ap@acme.example"], template="reminder",
                    attachments=["statement.pdf"], **WHEN).result
    talk = app.run(record_contact, customer, channel="phone", result="reached",
                   contact_person_id="jeanne", **WHEN).result
    return email, talk


def test_events_stored_before_the_fields_were_sealed_still_load(
        app: Collections, monkeypatch: pytest.MonkeyPatch) -> None:
    customer = given(app)
    monkeypatch.setattr(CollectionEmail.Created, "PERSONAL", ("to", "cc", "bcc"))
    monkeypatch.setattr(CustomerContact.Recorded, "PERSONAL", ("summary", "notes"))
    email, talk = write(app, customer)
    monkeypatch.undo()
    loaded = app.repository.get(email)
    assert (loaded.template, loaded.attachments) == ("reminder", ["statement.pdf"])
    assert app.repository.get(talk).contact_person_id == "jeanne"


@pytest.mark.parametrize("app", ["memory", "postgres"], indirect=True)
def test_new_events_are_sealed_and_read_erased_after_erasure(app: Collections) -> None:
    customer = given(app)
    email, talk = write(app, customer)
    states = [bytes(stored.state) for record in (email, talk)
              for stored in app.recorder.select_events(record)]
    assert states and not any(b"jeanne" in state.lower() for state in states)
    assert app.repository.get(email).attachments == ["statement.pdf"]
    app.keyring.erase(customer, "GDPR request")
    erased = app.repository.get(email)
    assert (erased.template, erased.attachments) == (ERASED, [ERASED])
    assert app.repository.get(talk).contact_person_id == ERASED


def test_an_aggregate_declares_its_events_personal_fields() -> None:
    assert CollectionEmail.Failed.PERSONAL == ("error",)
    assert CollectionEmail.Sent.PERSONAL == ()


def test_a_personal_field_the_event_lacks_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CollectionEmail, "PERSONAL", {"Failed": ("eror",)})
    with pytest.raises(TypeError, match="CollectionEmail.Failed has no field eror"):
        mark_personal(CollectionEmail)
    assert CollectionEmail.Failed.PERSONAL == ("error",)
