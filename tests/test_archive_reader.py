"""One reader (``compliance.archive.reader``) serves a stream whether it is hot, archived and
purged, or both; personal fields of archived events unseal, and read ERASED after erasure."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import (
    add_contact,
    add_customer_note,
    post_invoice,
    register_customer,
)
from ledger_collect.compliance.archive import ArchivedEvent, open_archive
from ledger_collect.compliance.archive.reader import EventReader
from ledger_collect.config import Settings
from ledger_collect.domain.base import ERASED
from ledger_collect.domain.invoice import Invoice
from ledger_collect.storage.database import Database

D = date(2026, 11, 2)


def _customer(app: Collections, number: str) -> Any:
    cid = app.run(register_customer, number=number, name=f"{number} GmbH", segment="EU-1",
                  credit_limit=Decimal(5000), currency="EUR", risk_class="B",
                  source_id=f"cust-{number}", actor="erp", business_date=D).result
    app.run(add_contact, cid, "k1", name="Hanna Vogt", email="hanna@vogt.example",
            phone="+49 30 1234567", role="AP", actor="alice", business_date=D)
    app.run(add_customer_note, cid, "n1", "Prefers calls on Tuesdays", actor="alice",
            business_date=D)
    app.run(post_invoice, customer_number=number, document_number=f"{number}-1",
            amount=Decimal("99.90"), currency="EUR", posting_date=date(2026, 8, 1),
            due_date=date(2026, 9, 1), source_id=f"inv-{number}-1", actor="erp",
            business_date=D)
    return cid


def _stored(database: Database, *ids: Any) -> list[ArchivedEvent]:
    with database.connect() as conn:
        rows = conn.execute(
            "SELECT originator_id, originator_version, topic, state, notification_id"
            " FROM collections_events WHERE originator_id = ANY(%s)"
            " ORDER BY notification_id", (list(ids),)).fetchall()
    return [ArchivedEvent(row[0], row[1], row[2], bytes(row[3]), row[4]) for row in rows]


def _purge(database: Database, *ids: Any) -> None:
    with database.connect() as conn:
        conn.execute("DELETE FROM collections_events WHERE originator_id = ANY(%s)",
                     (list(ids),))


def test_hot_archived_and_both_read_alike(app: Collections, settings: Settings,
                                          database: Database) -> None:
    cid = _customer(app, "C-7")
    invoice_id = Invoice.create_id("C-7-1")
    before = app.repository.get(cid)
    archive = open_archive(settings, database)
    reader = EventReader(app, archive)
    hot_events = reader.events(cid)
    assert [e.originator_version for e in hot_events] == [1, 2, 3]

    archive.append_segment(_stored(database, cid, invoice_id))
    both = reader.events(cid)  # archived and still hot
    assert [type(e) for e in both] == [type(e) for e in hot_events]

    _purge(database, cid, invoice_id)
    assert app.recorder.select_events(cid) == []
    fresh = Collections(database)  # nothing cached
    try:
        reader = EventReader(fresh, open_archive(settings, database))
        archived = reader.events(cid)
        assert [e.originator_version for e in archived] == [1, 2, 3]
        customer = reader.aggregate(cid)
        assert customer.contacts == before.contacts
        assert customer.contacts["k1"]["name"] == "Hanna Vogt"
        assert customer.notes == {"n1": "Prefers calls on Tuesdays"}
        assert reader.aggregate(invoice_id).open_amount == Decimal("99.90")
        assert reader.events(_customer(fresh, "C-8")) != []  # a hot one beside it
    finally:
        fresh.close()


def test_archived_personal_fields_read_erased_after_erasure(app: Collections,
                                                            settings: Settings,
                                                            database: Database) -> None:
    cid = _customer(app, "C-9")
    archive = open_archive(settings, database)
    archive.append_segment(_stored(database, cid))
    _purge(database, cid)
    app.keyring.erase(cid, reason="test")
    fresh = Collections(database)
    try:
        customer = EventReader(fresh, archive).aggregate(cid)
        assert customer.contacts["k1"]["name"] == ERASED
        assert customer.notes == {"n1": ERASED}
        assert customer.number == "C-9" and customer.credit_limit == Decimal("5000.00")
    finally:
        fresh.close()
    # The segment itself never held the plaintext.
    assert b"Hanna Vogt" not in archive.segment_bytes(1)
