"""Personal data is sealed per customer: never stored in plaintext, erased with the key."""

from __future__ import annotations

import base64
import os
import threading
import time
from datetime import date
from decimal import Decimal

import pytest

from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import (
    add_contact,
    add_customer_note,
    post_invoice,
    register_customer,
)
from ledger_collect.domain.base import ERASED
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.storage.personal_data import MasterKeyError, load_master_key

D = date(2026, 11, 2)
SECRETS = ("Jeanne Martin", "jeanne.martin@acme.example", "+33 1 45 67 89 00",
           "Asked to call back after the board meeting")


def _customer_with_personal_data(app: Collections, number: str = "C-100") -> Customer:
    cid = app.run(register_customer, number=number, name="Acme SARL", segment="EU-1",
                  credit_limit=Decimal(10000), currency="EUR", risk_class="C",
                  source_id=f"cust-{number}", actor="erp", business_date=D).result
    app.run(add_contact, cid, "k1", name=SECRETS[0], email=SECRETS[1], phone=SECRETS[2],
            role="accounts payable", actor="alice", business_date=D)
    app.run(add_customer_note, cid, "n1", SECRETS[3], actor="alice", business_date=D)
    app.run(post_invoice, customer_number=number, document_number=f"{number}-INV-1",
            amount=Decimal("1234.56"), currency="EUR", posting_date=date(2026, 9, 1),
            due_date=date(2026, 10, 1), source_id=f"inv-{number}-1", actor="erp",
            business_date=D)
    return app.repository.get(cid)


def _raw_states(database) -> list[bytes]:
    with database.connect() as conn:
        return [bytes(row[0]) for row in conn.execute("SELECT state FROM collections_events")]


def test_personal_fields_are_not_stored_in_plaintext(app, database):
    customer = _customer_with_personal_data(app)
    assert customer.contacts["k1"] == {"name": SECRETS[0], "email": SECRETS[1],
                                       "phone": SECRETS[2], "role": "accounts payable"}
    states = _raw_states(database)
    assert len(states) == 4
    blob = b"\n".join(states)
    for secret in SECRETS:
        assert secret.encode() not in blob, secret
    # What is not personal stays readable for amounts-and-dates queries.
    assert b"Acme SARL" in blob
    assert b"1234.56" in blob


def test_erasing_the_key_erases_every_personal_field_and_keeps_the_facts(app, database):
    customer = _customer_with_personal_data(app)
    assert app.keyring.erase(customer.id, reason="GDPR request 2026-0042") is True
    assert app.keyring.erase(customer.id, reason="again") is False

    fresh = Collections(database)  # nothing cached: reads what is stored
    try:
        reloaded = fresh.repository.get(customer.id)
        assert reloaded.contacts["k1"] == {"name": ERASED, "email": ERASED, "phone": ERASED,
                                           "role": "accounts payable"}
        assert reloaded.notes == {"n1": ERASED}
        assert reloaded.number == "C-100" and reloaded.credit_limit == Decimal("10000.00")
        invoice = fresh.repository.get(Invoice.create_id("C-100-INV-1"))
        assert invoice.open_amount == Decimal("1234.56")
        assert invoice.due_date == date(2026, 10, 1)
        # New personal data for an erased subject is not kept either.
        fresh.run(add_contact, customer.id, "k2", name="Somebody New", email="new@acme.example",
                  actor="alice", business_date=D)
        assert fresh.repository.get(customer.id).contacts["k2"]["name"] == ERASED
        assert b"Somebody New" not in b"\n".join(_raw_states(database))
    finally:
        fresh.close()


@pytest.mark.parametrize("app", ["memory", "postgres"], indirect=True)
def test_erasure_reads_the_same_on_the_in_memory_store_and_on_postgresql(app):
    customer = _customer_with_personal_data(app)
    assert app.keyring.erase(customer.id, reason="GDPR request 2026-0042") is True
    assert app.keyring.erase(customer.id, reason="again") is False
    app.keyring.forget_cache()  # what the store holds, not what this application remembers
    reloaded = app.repository.get(customer.id)
    assert reloaded.contacts["k1"] == {"name": ERASED, "email": ERASED, "phone": ERASED,
                                       "role": "accounts payable"}
    assert reloaded.notes == {"n1": ERASED}
    assert reloaded.number == "C-100" and reloaded.credit_limit == Decimal("10000.00")
    assert app.repository.get(Invoice.create_id("C-100-INV-1")).open_amount == Decimal("1234.56")
    app.keyring.ensure_keys([customer.id])  # an erased subject never gets a key again
    assert app.keyring.cipher_for(customer.id, create=True) is None
    app.run(add_contact, customer.id, "k2", name="Somebody New", email="new@acme.example",
            actor="alice", business_date=D)
    assert app.repository.get(customer.id).contacts["k2"]["name"] == ERASED
    stored = b"\n".join(bytes(e.state) for e in app.recorder.select_events(customer.id))
    assert b"Somebody New" not in stored and b"Acme SARL" in stored


def test_each_customer_has_its_own_key(app, database):
    first = _customer_with_personal_data(app, "C-1")
    second = _customer_with_personal_data(app, "C-2")
    app.keyring.erase(first.id, reason="test")
    fresh = Collections(database)
    try:
        assert fresh.repository.get(first.id).contacts["k1"]["name"] == ERASED
        assert fresh.repository.get(second.id).contacts["k1"]["name"] == SECRETS[0]
    finally:
        fresh.close()
    with database.connect() as conn:
        assert conn.execute("SELECT count(*) FROM subject_keys").fetchone()[0] == 1
        assert conn.execute("SELECT reason FROM erased_subjects").fetchone()[0] == "test"


def test_data_keys_are_sealed_by_the_master_key(app, database, settings):
    customer = _customer_with_personal_data(app)
    other_key = base64.b64encode(os.urandom(32)).decode()
    stranger = Collections(database, settings.with_changes(master_key=other_key))
    try:
        with pytest.raises(MasterKeyError, match="does not open with the configured master key"):
            stranger.repository.get(customer.id)
    finally:
        stranger.close()


def test_master_key_is_generated_once_outside_the_database(tmp_path):
    key_file = tmp_path / "keys" / "master.key"
    with pytest.raises(MasterKeyError, match="no master key"):
        load_master_key(None, key_file, create=False)
    first = load_master_key(None, key_file, create=True)
    assert len(first) == 32
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert load_master_key(None, key_file, create=True) == first
    with pytest.raises(MasterKeyError, match="32 bytes"):
        load_master_key(base64.b64encode(b"short").decode(), key_file, create=False)


class _Transactions:
    """Counts the key ring's transactions (each is a round trip or more to the real server),
    apart from its once-a-second look at erasures made elsewhere."""

    def __init__(self, keyring) -> None:
        self.transactions = 0
        self.rechecks = 0
        self._transaction = keyring._datastore.transaction
        keyring._datastore = self
        erased_since = keyring._erased_since

        def counted(since):
            self.rechecks += 1
            return erased_since(since)

        keyring._erased_since = counted

    @property
    def count(self) -> int:
        return self.transactions - self.rechecks

    def transaction(self, **kwargs):
        self.transactions += 1
        return self._transaction(**kwargs)


def test_keys_are_made_read_back_and_erasures_known_in_one_statement(app, database):
    erased, known, new = (Customer.create_id(n) for n in ("C-erased", "C-known", "C-new"))
    app.keyring.erase(erased, reason="test")
    app.keyring.ensure_keys([known])
    fresh = Collections(database)  # nothing cached: what does it find?
    try:
        ring = fresh.keyring
        spy = _Transactions(ring)
        ring.ensure_keys([erased, known, new, known])
        assert spy.count == 1
        assert ring.cipher_for(erased, create=True) is None  # erased: no new key
        nonce = os.urandom(12)
        sealed = app.keyring.cipher_for(known, create=False).encrypt(nonce, b"x", None)
        assert ring.cipher_for(known, create=False).decrypt(nonce, sealed, None) == b"x"
        ring.ensure_keys([erased, known, new])  # all cached now: nothing asked
        assert spy.count == 1
        sealed = ring.cipher_for(new, create=False).encrypt(nonce, b"y", None)
        assert app.keyring.cipher_for(new, create=False).decrypt(nonce, sealed, None) == b"y"
    finally:
        fresh.close()
    with database.connect() as conn:
        rows = conn.execute("SELECT subject_id FROM subject_keys ORDER BY 1").fetchall()
    assert sorted(r[0] for r in rows) == sorted([known, new])


def test_a_key_another_process_inserts_meanwhile_is_the_one_used(app, database):
    subject = Customer.create_id("C-race")
    rival = Collections(database)
    fresh = Collections(database)
    try:
        with database.connect(autocommit=False) as conn:  # the rival's key, not yet committed
            rival_sealed = rival.keyring._seal_key(subject, os.urandom(32))
            conn.execute("INSERT INTO subject_keys (subject_id, sealed_key) VALUES (%s, %s)",
                         (subject, rival_sealed))
            done = threading.Thread(target=fresh.keyring.ensure_keys, args=([subject],))
            done.start()
            deadline = time.monotonic() + 10
            while not conn.execute(  # ours waits on the rival's row
                    "SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]:
                assert time.monotonic() < deadline, "ensure_keys never met the rival's row"
                time.sleep(0.01)
            conn.commit()
        done.join(timeout=10)
        assert not done.is_alive()
        spy = _Transactions(fresh.keyring)
        ours = fresh.keyring.cipher_for(subject, create=False)
        assert spy.count == 0  # ensure_keys read the rival's key back
        theirs = rival.keyring._open_key(subject, rival_sealed)
        nonce = os.urandom(12)
        assert theirs.decrypt(nonce, ours.encrypt(nonce, b"z", None), None) == b"z"
    finally:
        rival.close()
        fresh.close()


def test_events_of_many_customers_are_unsealed_with_one_key_query(app, database):
    numbers = ("C-201", "C-202", "C-203")
    for number in numbers:
        _customer_with_personal_data(app, number)
    app.keyring.erase(Customer.create_id("C-203"), reason="test")
    stored = list(app.recorder.select_events(Customer.create_id("C-201")))
    for number in numbers[1:]:
        stored += app.recorder.select_events(Customer.create_id(number))
    fresh = Collections(database)  # no key cached
    try:
        spy = _Transactions(fresh.keyring)
        events = fresh.mapper.to_domain_events(stored)
        assert spy.count == 1
        added = [e for e in events if type(e) is Customer.ContactAdded]
        assert [(e.originator_id, e.name) for e in added] == [
            (Customer.create_id("C-201"), SECRETS[0]), (Customer.create_id("C-202"), SECRETS[0]),
            (Customer.create_id("C-203"), ERASED)]
        notes = [e.text for e in events if type(e) is Customer.NoteAdded]
        assert notes == [SECRETS[3], SECRETS[3], ERASED]
    finally:
        fresh.close()


def test_a_key_erased_by_another_process_stops_opening_data_here_within_a_second(app, database):
    customer = _customer_with_personal_data(app, "C-300")
    reader = Collections(database)  # another process: the API, a worker
    try:
        assert reader.repository.get(customer.id).notes == {"n1": SECRETS[3]}  # key cached
        erased_at = time.monotonic()
        app.keyring.erase(customer.id, reason="GDPR request")
        while reader.repository.get(customer.id).notes != {"n1": ERASED}:
            assert time.monotonic() - erased_at < 3, "the reader kept using the deleted key"
            time.sleep(0.05)
        assert time.monotonic() - erased_at < 1.5
        other = _customer_with_personal_data(app, "C-301")
        assert reader.repository.get(other.id).notes == {"n1": SECRETS[3]}  # the others stay
    finally:
        reader.close()
