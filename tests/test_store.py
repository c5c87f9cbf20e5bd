"""The fast write path (``ledger_collect.speedups``: recorder, transcoder, mapper, saving)
keeps the library's contract, and ``Collections`` saves through whichever parts its settings
name (``storage.event_store``).

* The library's own recorder conformance cases (concurrent writers, contiguous non-interleaved
  notification ids, conflicts, subscriptions, tracking rows of process recorders) run against
  ``FastApplicationRecorder`` and ``FastProcessRecorder`` on our migrated tables.
* (``FastJSONTranscoder``'s cases are in ``test_transcoder``.)
* The fast mapper, event store and save store and read what the library's do.
* ``Collections`` saves a batch whole and refuses a conflicting one whole.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import (
    EventStore,
    InfrastructureFactory,
    IntegrityError,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
)
from eventsourcing.postgres import PostgresFactory
from eventsourcing.tests import persistence as conformance
from eventsourcing.utils import Environment
from psycopg import sql

from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import register_customer
from ledger_collect.config import Settings
from ledger_collect.domain.base import ConflictError
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.speedups import saving
from ledger_collect.speedups.mapper import FastSealingMapper
from ledger_collect.speedups.recorder import (
    FastApplicationRecorder,
    FastProcessRecorder,
    binary_columns,
)
from ledger_collect.speedups.recorder import (
    fast_application_recorder as application_recorder,
)
from ledger_collect.speedups.saving import FastEventStore
from ledger_collect.storage.database import Database
from ledger_collect.storage.personal_data import SealingMapper

D = date(2026, 11, 2)


# -- the library's recorder cases on our recorders ----------------------------------------------
class OnMigratedSchema:
    """Each test: a fresh schema migrated as in production, and the library's factory built
    from the application's own settings (12 connections: the cases run 10 writers at once)."""

    factory: PostgresFactory

    @pytest.fixture(autouse=True)
    def _fresh_schema(self, server_url: str) -> Iterator[None]:
        schema = f"store_{uuid.uuid4().hex[:12]}"
        database = Database(Settings(database_url=server_url, schema=schema, pool_size=12))
        database.migrate()
        env = Environment(Collections.name, database.eventsourcing_env())
        self.factory = InfrastructureFactory.construct(env)  # type: ignore[assignment]
        try:
            yield
        finally:
            self.factory.close()
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


class TestFastApplicationRecorder(OnMigratedSchema, conformance.ApplicationRecorderTestCase[Any]):
    def create_recorder(self) -> FastApplicationRecorder:
        return application_recorder(self.factory)

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class Unpipelined(FastApplicationRecorder):
    pipeline_max_bytes = -1  # every batch, however small, takes the import's path


class UnpipelinedProcess(FastProcessRecorder):
    pipeline_max_bytes = -1


class TestFastApplicationRecorderUnpipelined(
    OnMigratedSchema, conformance.ApplicationRecorderTestCase[Any]
):
    """The same cases on the path large batches take (outside psycopg's pipeline mode)."""

    def create_recorder(self) -> FastApplicationRecorder:
        return Unpipelined(datastore=self.factory.datastore,
                           events_table_name="collections_events")

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestFastRecorderNonInterleaving(
    OnMigratedSchema, conformance.NonInterleavingNotificationIDsBaseCase
):
    def create_recorder(self) -> FastApplicationRecorder:
        return application_recorder(self.factory)


class TestUnpipelinedNonInterleaving(
    OnMigratedSchema, conformance.NonInterleavingNotificationIDsBaseCase
):
    def create_recorder(self) -> FastApplicationRecorder:
        return Unpipelined(datastore=self.factory.datastore,
                           events_table_name="collections_events")


class TestFastProcessRecorder(OnMigratedSchema, conformance.ProcessRecorderTestCase):
    recorder_class: type[FastProcessRecorder] = FastProcessRecorder

    def create_recorder(self) -> FastProcessRecorder:
        recorder = self.recorder_class(
            datastore=self.factory.datastore,
            events_table_name="collections_events",
            tracking_table_name="collections_tracking",
        )
        recorder.create_table()  # the tracking table (the events table is migrated)
        return recorder


class TestUnpipelinedProcessRecorder(TestFastProcessRecorder):
    recorder_class = UnpipelinedProcess


class TestBatchEdges(OnMigratedSchema):
    def test_a_batch_of_many_megabytes_is_written_and_does_not_hang(self) -> None:
        """psycopg's pipeline deadlocks on a message the socket does not take at once (the
        stock recorder hangs here); large batches must take the other path."""
        recorder = application_recorder(self.factory)
        batch = [StoredEvent(uuid.uuid4(), 1, "t", b"x" * 400) for _ in range(30_000)]
        ids: list[Any] = []
        writer = threading.Thread(target=lambda: ids.extend(recorder.insert_events(batch) or []),
                                  daemon=True)
        writer.start()
        writer.join(timeout=120)
        assert not writer.is_alive(), "the insert of a 12 MB batch hangs"
        assert ids == list(range(1, 30_001))

    def test_small_batches_take_the_library_pipelined_path(self) -> None:
        recorder = application_recorder(self.factory)
        small = [StoredEvent(uuid.uuid4(), 1, "t", b"x" * 1000) for _ in range(60)]
        large = [StoredEvent(uuid.uuid4(), 1, "t", b"x" * 1000) for _ in range(70)]
        taken: list[str] = []
        recorder._insert_unpipelined = (  # type: ignore[method-assign]
            lambda events, _original=recorder._insert_unpipelined, **kw:
            taken.append("unpipelined") or _original(events, **kw))
        assert recorder.insert_events(small) == list(range(1, 61))
        assert taken == []
        assert recorder.insert_events(large) == list(range(61, 131))
        assert taken == ["unpipelined"]

    def test_a_batch_with_one_conflicting_event_writes_nothing(self) -> None:
        recorder = application_recorder(self.factory)
        taken = uuid.uuid4()
        assert recorder.insert_events([StoredEvent(taken, 1, "t", b"{}")]) == [1]
        fresh = [StoredEvent(uuid.uuid4(), v, "t", b"{}") for v in range(1, 400)]
        with pytest.raises(IntegrityError):
            recorder.insert_events([*fresh, StoredEvent(taken, 1, "t", b"{}")])
        assert recorder.max_notification_id() == 1
        assert recorder.select_events(fresh[0].originator_id) == []

    def test_ids_follow_the_batch_order_and_odd_values_survive(self) -> None:
        recorder = application_recorder(self.factory)
        a, b = uuid.uuid4(), uuid.uuid4()
        batch = [
            StoredEvent(a, 1, "ledger_collect.Ä.Ünïcode", b""),
            StoredEvent(str(b), 2**40, "t2", b"\x00\xff" * 3000),  # id given as text
            StoredEvent(a, 2, "t3", b"x"),
        ]
        assert recorder.insert_events(batch) == [1, 2, 3]
        notifications = recorder.select_notifications(start=1, limit=10)
        assert [(n.originator_id, n.originator_version, n.topic,
                 n.state) for n in notifications] == [
            (a, 1, "ledger_collect.Ä.Ünïcode", b""),
            (b, 2**40, "t2", b"\x00\xff" * 3000),
            (a, 2, "t3", b"x"),
        ]

    def test_binary_columns_are_postgres_arrays_of_the_batch(self) -> None:
        events = [StoredEvent(uuid.uuid4(), 7, "t", b"s"), StoredEvent(uuid.uuid4(), 8, "u", b"")]
        with self.factory.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT %b::text AS ids, %b::text AS versions, %b::text AS topics,"
                " %b::text AS states",
                binary_columns(events),
            )
            row = curs.fetchone()
        assert row == {
            "ids": f"{{{events[0].originator_id},{events[1].originator_id}}}",
            "versions": "{7,8}",
            "topics": "{t,u}",
            "states": '{"\\\\x73","\\\\x"}',
        }


# -- the application ----------------------------------------------------------------------------
def _customer(number: str) -> Customer:
    return Customer.register(number=number, name=f"Customer {number}", segment="S1",
                             credit_limit=Decimal(5000), currency="EUR", risk_class="B",
                             head_office_id=None, source_id=f"c-{number}", actor="erp",
                             business_date=D)


def test_collections_saves_a_batch_whole_its_ids_in_order_its_personal_data_sealed(
    app: Collections,
) -> None:
    customers = [_customer(f"C{i}") for i in range(300)]
    for customer in customers:
        customer.add_contact("k1", name="Jeanne Martin", email="jm@acme.fr", phone=None,
                             role=None, actor="alice", business_date=D)
    invoices = [
        Invoice.post(customer_id=c.id, document_number=f"INV-{c.number}", amount=Decimal(100),
                     currency="EUR", posting_date=D - timedelta(days=40),
                     due_date=D - timedelta(days=10), source_id=f"i-{c.number}", actor="erp",
                     business_date=D)
        for c in customers
    ]
    batch = app.batch()
    batch.preload([*customers, *invoices])
    last = app.save_batch(batch)
    assert last == 900  # 300 × (Registered, ContactAdded, Posted): every id, in order
    ids = [n.id for n in app.recorder.select_notifications(start=1, limit=1000)]
    assert ids == list(range(1, 901))
    copy = app.repository.get(customers[299].id)
    assert copy.contacts["k1"]["email"] == "jm@acme.fr"  # sealed, then unsealed on read
    assert app.repository.get(invoices[0].id).open_amount == Decimal("100.00")
    with app.database.connect() as conn:
        states = conn.execute(
            "SELECT state FROM collections_events WHERE topic = %s",
            ("ledger_collect.Customer.ContactAdded",),
        ).fetchall()
    assert len(states) == 300
    assert not any(b"jm@acme.fr" in bytes(s) or b"Jeanne" in bytes(s) for (s,) in states)


def test_two_batches_racing_for_one_customer_one_wins_the_other_writes_nothing(
    app: Collections,
) -> None:
    app.run(register_customer, number="C1", name="Acme", segment="S1", credit_limit=Decimal(5000),
            currency="EUR", risk_class="B", source_id="cust-C1", actor="erp",
            business_date=D)
    first, second = app.batch(), app.batch()
    first.get(Customer, Customer.create_id("C1")).assign("alice", actor="sup", business_date=D)
    second.get(Customer, Customer.create_id("C1")).assign("bob", actor="sup", business_date=D)
    bystanders = [_customer(f"B{i}") for i in range(50)]
    second.preload(bystanders)
    app.save_batch(first)
    with pytest.raises(ConflictError):
        app.save_batch(second)
    assert app.repository.get(Customer.create_id("C1")).specialist == "alice"
    assert app.recorder.max_notification_id() == 2
    assert not any(b.id in app.repository for b in bystanders[:3])


def test_concurrent_imports_interleave_whole_batches(app: Collections) -> None:
    """Two threads saving batches at once: every batch's ids are contiguous (the table lock)."""
    batches = [[_customer(f"T{t}-{i}") for i in range(200)] for t in range(4)]
    errors: list[BaseException] = []

    def save(customers: list[Customer]) -> None:
        try:
            app.save(*customers)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    by_id = {n.originator_id: n.id for n in app.recorder.select_notifications(start=1, limit=1000)}
    for customers in batches:
        ids = [by_id[c.id] for c in customers]
        assert ids == list(range(ids[0], ids[0] + 200))


# -- mapper, event store, save ------------------------------------------------------------------
def test_the_fast_mapper_and_event_store_store_and_read_what_the_library_does(
    app: Collections,
) -> None:
    plain = SealingMapper(transcoder=app.mapper.transcoder)
    fast = FastSealingMapper(transcoder=app.mapper.transcoder)
    plain.keyring = fast.keyring = app.keyring
    customer = _customer("M1")
    customer.add_contact("k1", name="Jeanne Martin", email="j@acme.example", phone=None,
                         role=None, actor="alice", business_date=D)
    events = list(customer.pending_events)
    assert fast.to_stored_event(events[0]) == plain.to_stored_event(events[0]) == Mapper(
        transcoder=app.mapper.transcoder).to_stored_event(events[0])  # nothing personal
    for writer, reader in ((fast, plain), (plain, fast)):  # sealed anew each time
        sealed = writer.to_stored_event(events[1])
        assert b"Jeanne" not in sealed.state
        assert vars(reader.to_domain_event(sealed)) == vars(events[1])
    recordings = FastEventStore(mapper=fast, recorder=app.recorder).put(
        customer.collect_events())
    expected = EventStore(mapper=plain, recorder=app.recorder).put(
        _customer("M2").collect_events())
    assert {type(r) for r in recordings} == {type(r) for r in expected} == {Recording}
    assert {type(r.notification) for r in recordings + expected} == {Notification}
    assert [(r.notification.id, r.notification.topic, r.domain_event) for r in recordings] \
        == [(1, "ledger_collect.Customer.Registered", events[0]),
            (2, "ledger_collect.Customer.ContactAdded", events[1])]
    assert [vars(r.notification).keys() for r in recordings[:1]] == [
        vars(r.notification).keys() for r in expected]
    stored = [r.notification for r in recordings]
    for mapper in (fast, plain):  # the bulk path (a rebuild's): the library's result
        decoded = mapper.to_domain_events(stored)
        assert decoded == events
        assert [vars(e) for e in decoded] == [vars(e) for e in events]
        assert [type(e) for e in decoded] == [type(e) for e in events]


@pytest.mark.parametrize("save", [saving.save, Application.save], ids=["fast", "library"])
def test_fast_save_records_what_the_library_save_records(database: Database, save: Any) -> None:
    collections = Collections(database)
    try:
        customer = _customer("F1")
        customer.assign("alice", actor="sup", business_date=D)
        other = _customer("F2")
        pending = other.collect_events()  # domain events passed directly, as the library allows
        recordings = save(collections, customer, None, *pending)
        assert [(r.domain_event.originator_id, r.notification.id) for r in recordings] == [
            (customer.id, 1), (customer.id, 2), (other.id, 3)]
        assert customer.pending_events == []
        assert collections.repository.get(customer.id).specialist == "alice"
        customer.assign("bob", actor="sup", business_date=D)
        stale = collections.repository.get(customer.id)
        stale.assign("carol", actor="sup", business_date=D)
        collections.save(customer)
        with pytest.raises(IntegrityError):
            collections.save(stale)
    finally:
        collections.close()
