"""End to end: customers whose contact persons' names, addresses and phone numbers, and notes
about them, are spread over hundreds of events, every read model and archive segments. Before
the erasure the verifier finds them (it is not blind); after it, a pg_dump of the whole database
and every segment hold none of the erased customers' values — while a customer not erased is
still found, and so are the non-personal document numbers in the segments."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner
from conftest import TODAY
from eventsourcing.persistence import StoredEvent
from verify_helpers import private_database

from ledger_collect.cli import cli
from ledger_collect.commands import agency_commands as ag
from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands import dunning_commands as dn
from ledger_collect.commands import promise_commands as pr
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections
from ledger_collect.compliance.archiver import archive_run
from ledger_collect.compliance.erasure import erase_customer
from ledger_collect.compliance.verify_erasure import Report, verify_erasure
from ledger_collect.config import Settings
from ledger_collect.projections.engine import catch_up, rebuild

#: Past the hot period of the invoices cleared, promises withdrawn and disputes closed today.
LATER = TODAY + timedelta(days=3 * 366)
FIRST = ("Amara", "Bastien", "Clodagh", "Dmitri")
MIDDLE = ("", "Jo ", "Lee ", "Mae ", "Rue ")
INVOICES, CLEARED = 30, 20


@pytest.fixture
def settings(server_url: str, tmp_path: Path) -> Iterator[Settings]:
    """A database of the test's own: the verifier dumps all of it."""
    with private_database(server_url) as url:
        yield Settings(database_url=url, data_dir=tmp_path, schema="ledger",
                       master_key=base64.b64encode(os.urandom(32)).decode(), pool_size=2,
                       speedups=Settings.from_env().speedups)


@dataclass
class Person:
    """A customer with what is personal about it (``values``: one per line of a values file)
    and a non-personal control: its document numbers' prefix."""

    number: str
    surname: str
    id: UUID | None = None
    values: list[str] = field(default_factory=list)
    #: What no read model shows, sealed in the events alone (or quoted in a note): contacts'
    #: names, addresses and phones before their last change (a contact is shown as it is now),
    #: the agency's status notes and the reasons of a recall.
    unshown: set[str] = field(default_factory=set)

    @property
    def control(self) -> str:
        return f"{self.number}-INV-"

    def said(self, value: str, *, unshown: bool = False) -> str:
        self.values.append(value)
        if unshown:
            self.unshown.add(value)
        return value


def _write(app: Collections, person: Person, k: int) -> int:
    """About two hundred events of one customer; returns how many."""
    by = {"actor": "alice", "business_date": TODAY}
    erp = {"actor": "erp", "business_date": TODAY - timedelta(days=60)}
    batch = app.batch()
    number, s = person.number, person.surname
    person.id = rc.register_customer(batch, number=number, name=f"{s} Holdings Ltd",
                                     segment="north", credit_limit=Decimal(90000),
                                     currency="EUR", risk_class="C", source_id=f"reg-{number}",
                                     **erp)
    cid = person.id
    contacts = {}
    for j, first in enumerate(FIRST):
        for v, middle in enumerate(MIDDLE):
            old = v < len(MIDDLE) - 1
            name = person.said(f"{first} {middle}{s}", unshown=old)
            email = person.said(f"{first.lower()}.{v}.{s.lower()}@{s.lower()}-holdings.example",
                                unshown=old)
            phone = person.said(f"+44 20 7{k}{j}{v} 55{j}{v}", unshown=old)
            change = rc.add_contact if v == 0 else rc.change_contact
            change(batch, cid, "abcd"[j], name=name, email=email, phone=phone,
                   role="accounts payable", **by)
            contacts["abcd"[j]] = (name, email, phone)
    for n in range(25):
        name, _, phone = contacts["abcd"[n % 4]]
        rc.add_customer_note(batch, cid, f"n{n}", person.said(
            f"Spoke with {name} about statement {n}; call back on {phone} after four"), **by)
    invoices = []
    for i in range(INVOICES):
        doc = f"{person.control}{i:03d}"
        invoices.append(rc.post_invoice(
            batch, customer_number=number, document_number=doc, amount=Decimal(100 + i),
            currency="EUR", posting_date=TODAY - timedelta(days=60),
            due_date=TODAY - timedelta(days=30), source_id=f"inv-{doc}", **erp))
    for d in range(5):  # disputes over invoices later paid: closed, then archived
        dispute = cw.open_dispute(batch, cid, [invoices[d]], amount=Decimal(50), reason="price",
                                  processor="pat", note=person.said(
                                      f"{contacts['a'][0]} says the price of lot {d} is wrong"),
                                  **by)
        cw.start_dispute_processing(batch, dispute, **by)
        for t in range(3):
            cw.add_dispute_note(batch, dispute, person.said(
                f"Dispute {d}: {contacts['b'][0]} sent proof {t} from {contacts['b'][1]}"), **by)
        cw.resolve_dispute(batch, dispute, "rejected", **by)
        cw.close_dispute(batch, dispute, **by)
    for p in range(5, 15):  # promises withdrawn: closed, then archived
        promise = pr.record_promise(batch, invoice_id=invoices[p], amount=Decimal(50),
                                    promised_date=TODAY + timedelta(days=10), **by)
        pr.withdraw_promise(batch, promise, reason=person.said(
            f"{contacts['c'][0]} withdrew promise {p} on the phone"), **by)
    rc.apply_payment(batch, source_id=f"pay-{number}", customer_number=number,
                     allocations=[(f"{person.control}{i:03d}", Decimal(100 + i))
                                  for i in range(CLEARED)],
                     unapplied=None, currency="EUR", payment_date=TODAY, **by)
    for r in range(4):
        follow_up = cw.create_resubmission(
            batch, cid, follow_up_date=TODAY + timedelta(days=5), invoice_ids=[invoices[25]],
            reason=person.said(f"{contacts['d'][0]} is away until week {r}"), **by)
        cw.move_resubmission(batch, follow_up, TODAY + timedelta(days=12), reason=person.said(
            f"{contacts['d'][0]} extended leave {r}"), **by)
        cw.complete_resubmission(batch, follow_up, **by)
        task = cw.create_activity(batch, cid, specialist="alice", due_date=TODAY,
                                  description=person.said(
                                      f"Send statement {r} to {contacts['a'][1]}"), **by)
        cw.close_activity(batch, task, note=person.said(f"Sent {r} to {contacts['a'][0]}"), **by)
    for t in range(6):
        letter = "abcd"[t % 4]
        talk = cw.record_contact(batch, cid, channel="phone", result="reached",
                                 contact_person_id=letter, summary=person.said(
                                     f"{contacts[letter][0]} will pay instalment {t}"),
                                 notes=person.said(f"Mobile {contacts[letter][2]} / call {t}"),
                                 **by)
        email = cw.create_email(batch, cid, to=[contacts[letter][1]], cc=[contacts["d" if letter != "d" else "a"][1]],
                                template="reminder", contact_id=talk, **by)
        if t % 2:
            cw.mark_email_failed(batch, email, person.said(
                f"550 <{contacts[letter][1]}> unknown at {t}"), **by)
        else:
            cw.mark_email_sent(batch, email, **by)
    case = ag.submit_to_agency(batch, cid, agency="Debt Hunters Ltd",
                               invoice_ids=[invoices[27], invoices[28]], **by)
    ag.report_agency_status(batch, source_id=f"st-{number}", case_id=case, status="in_progress",
                            note=person.said(f"{contacts['a'][0]} reached at {contacts['a'][2]}",
                                             unshown=True), **by)
    ag.recall_from_agency(batch, case, reason=person.said(
        f"{contacts['b'][0]} asked us to take it back", unshown=True), **by)
    dn.block_customer_dunning(batch, cid, reason=person.said(
        f"{contacts['b'][0]} in hospital, no letters"), **by)
    dn.block_invoice_dunning(batch, invoices[26], reason=person.said(
        f"{contacts['c'][0]} disputes by phone"), **by)
    app.save_batch(batch)
    return len(batch_events(app, cid))


def batch_events(app: Collections, customer_id: UUID) -> list[Any]:
    """The events of the customer's streams (its own, and those whose first event names it)."""
    assert app.database is not None
    with app.database.connect() as conn:
        rows = conn.execute("SELECT originator_id, originator_version, topic, state FROM "
                            "collections_events ORDER BY notification_id").fetchall()
    events = app.mapper.to_domain_events([StoredEvent(*row[:3], bytes(row[3])) for row in rows])
    owner = {e.originator_id: getattr(e, "customer_id", e.originator_id)
             for e in events if e.originator_version == 1}
    return [e for e in events if owner.get(e.originator_id) == customer_id]


def _values(person: Person) -> list[tuple[int, str]]:
    return list(enumerate(dict.fromkeys(person.values), 1))


def _found(report: Report) -> dict[str, set[int]]:
    """Where hits were: per place kind (table name or "segments"), the values found there."""
    found: dict[str, set[int]] = {}
    for hit in report.hits:
        place = "segments" if hit.place.startswith("archive ") else hit.place.rsplit(".", 1)[-1]
        found.setdefault(place, set()).add(hit.value)
    return found


def _verify(app: Collections, person: Person, *extra: str) -> Report:
    values = _values(person)
    values += [(len(values) + n, value) for n, value in enumerate(extra, 1)]
    assert app.database is not None
    return verify_erasure(app.settings, app.database, values, max_hits=1_000_000)


def test_no_erased_value_is_left_in_the_dump_or_the_archive(app: Collections,
                                                            tmp_path: Path) -> None:
    people = [Person("VRF-E1", "Vandersloot"), Person("VRF-E2", "Okonkwo-Hartley"),
              Person("VRF-B1", "Brennan-Ruiz")]
    app.run(ag.set_agency_criteria, minimum_amount=Decimal(100), days_overdue=10,
            actor="sue", business_date=TODAY)
    events = [_write(app, person, k) for k, person in enumerate(people)]
    assert min(events) > 200
    erased, kept = people[:2], people[2]
    catch_up(app)

    # Before: every value is in the read models, none in the events (sealed there).
    for person in people:
        report = _verify(app, person)
        found = _found(report)
        assert set().union(*found.values()) >= {n for n, value in _values(person)
                                                if value not in person.unshown}
        assert "collections_events" not in found
        assert {"contact_persons", "customer_notes", "timeline", "dispute_notes",
                "collection_emails", "customer_contacts", "resubmissions",
                "activities"} <= set(found), sorted(found)

    counts = archive_run(app, business_date=LATER)
    assert counts["segments"] >= 1 and counts["streams"] >= len(people) * (CLEARED + 15)
    catch_up(app)
    before = _verify(app, erased[0], erased[0].control)
    assert before.segments == counts["segments"]
    control = len(_values(erased[0])) + 1
    assert control in _found(before)["segments"]  # what the segments hold is read
    assert before.hit_count > 100

    for person in erased:
        assert person.id is not None
        outcome = erase_customer(app, person.id, "GDPR Art. 17(1)(a)", "dpo", today=LATER)
        assert outcome.status == "completed"
    catch_up(app)

    for person in erased:
        after = _verify(app, person, person.control)
        assert [h.describe() for h in after.hits if h.value != control] == []
        assert control in _found(after)["segments"]  # not blind: the archive is still read
        assert after.segments == counts["segments"] and after.problems == []
    rebuild(app)  # a rebuild from the events gives the erased fields as the live models do
    assert [h.describe() for h in _verify(app, erased[1]).hits] == []
    still = _found(_verify(app, kept))
    assert {"contact_persons", "customer_notes", "timeline"} <= set(still)

    values = tmp_path / "values.txt"
    values.write_text("\n".join(erased[0].values) + "\n")
    env = {"LEDGER_DATABASE_URL": app.settings.database_url,
           "LEDGER_SCHEMA": app.settings.schema, "LEDGER_MASTER_KEY": app.settings.master_key,
           "LEDGER_DATA_DIR": str(app.settings.data_dir)}
    result = CliRunner().invoke(cli, ["verify-erasure", erased[0].number, "--values",
                                      str(values)], env=env)
    assert result.exit_code == 0, result.output
    assert "data key erased" in result.stderr and "0 hits" in result.stderr
