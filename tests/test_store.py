"""The fast write path (``ledger_collect.storage.event_store``) keeps the library's contract.

* The library's own recorder conformance cases (concurrent writers, contiguous non-interleaved
  notification ids, conflicts, subscriptions, tracking rows of process recorders) run against
  ``FastApplicationRecorder`` and ``FastProcessRecorder`` on our migrated tables.
* The library's transcoder cases run against ``FastJSONTranscoder``, which also writes the same
  bytes as the stock transcoder for every kind of value our events hold.
* ``Collections`` uses both, and a conflicting batch is refused whole.
"""

from __future__ import annotations

import hashlib
import inspect
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    EventStore,
    InfrastructureFactory,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from eventsourcing.postgres import PostgresFactory
from eventsourcing.tests import persistence as conformance
from eventsourcing.utils import Environment
from psycopg import sql

from ledger_collect.commands.application import Collections, DateAsISO
from ledger_collect.commands.receivables import register_customer
from ledger_collect.config import Settings
from ledger_collect.domain.base import ConflictError
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.storage.database import Database
from ledger_collect.storage.event_store import (
    FastApplicationRecorder,
    FastEventStore,
    FastProcessRecorder,
    FastSave,
    application_recorder,
    binary_columns,
)
from ledger_collect.storage.transcoder import FastJSONTranscoder

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


# -- the transcoder -----------------------------------------------------------------------------
class TestFastTranscoderConformance(conformance.TranscoderTestCase):
    """The library's own transcoder cases. Where the library expects what its stock
    JSONTranscoder does not do either (tuples kept as tuples, unregistered subclasses kept as
    subclasses), the case asserts instead that we write and read exactly what the stock one
    does: the same bytes, the same value back."""

    def construct_transcoder(self) -> FastJSONTranscoder:
        transcoder = FastJSONTranscoder()
        self._register(transcoder)
        return transcoder

    @staticmethod
    def _register(transcoder: JSONTranscoder) -> None:
        transcoder.register(conformance.CustomType1AsDict())
        transcoder.register(conformance.CustomType2AsDict())
        transcoder.register(UUIDAsHex())

    def _as_stock_does(self, *values: Any) -> None:
        stock = JSONTranscoder()
        self._register(stock)
        for value in values:
            written = self.transcoder.encode(value)
            assert written == stock.encode(value), value
            assert self.transcoder.decode(written) == stock.decode(written), value

    def test_tuple(self) -> None:
        self._as_stock_does((), ((),), (1,), ((1,),), (1, "a", (2, "b")))
        assert self.transcoder.decode(self.transcoder.encode((1, (2,)))) == [1, [2]]

    def test_mixed(self) -> None:
        self._as_stock_does([(1, "a"), {"b": 2}], ([1, "a"], {"b": 2}), {"a": (1, 2), "b": [3, 4]})

    def test_dict_subclass(self) -> None:
        self._as_stock_does(conformance.Mydict({"a": 1}))
        assert type(self.transcoder.decode(self.transcoder.encode(conformance.Mydict()))) is dict

    def test_list_subclass(self) -> None:
        self._as_stock_does(conformance.MyList((("a", 1),)))

    def test_str_subclass(self) -> None:
        self._as_stock_does(conformance.MyStr("a"))

    def test_int_subclass(self) -> None:
        self._as_stock_does(conformance.MyInt(3))


def _transcoders() -> tuple[JSONTranscoder, FastJSONTranscoder]:
    stock, fast = JSONTranscoder(), FastJSONTranscoder()
    for transcoder in (stock, fast):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
            transcoder.register(transcoding)
    return stock, fast


ODD_OFFSET = timezone(timedelta(hours=5, minutes=30, seconds=7))  # orjson would drop the 7 s
VALUES: list[Any] = [
    {"amount": Decimal("1234.50"), "cents": Decimal("0.01"), "negative": Decimal("-7.00")},
    {"customer_id": uuid.UUID("81d4e720-10d6-4ee4-8fe0-808c89464c1b"), "none": None},
    {"due": date(2026, 2, 28), "first": date(1, 1, 1), "last": date(9999, 12, 31)},
    {"utc": datetime(2026, 11, 2, 9, 30, 0, 123456, tzinfo=UTC),
     "whole_second": datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
     "naive": datetime(2026, 11, 2, 9, 30), "odd": datetime(2026, 11, 2, 9, 30, tzinfo=ODD_OFFSET)},
    {"changes": {"credit_limit": Decimal("5000.00"), "head_office_id": uuid.uuid4(), "name": "Ä"}},
    {"instalments": [{"due_date": date(2026, 12, 1), "amount": Decimal("50.00")}] * 2},
    {"invoice_ids": [uuid.uuid4(), uuid.uuid4()], "pairs": (("INV-1", Decimal("10.00")),)},
    {"failures": {"a@example.com": "550 no such user"}, "flag": True, "level": 3, "ratio": 0.5},
    {"emoji": "🐈 哈哈", "quote": 'a"b\\c', "control": "line\nbreak\t\x01"},
]


@pytest.mark.parametrize("value", VALUES)
def test_fast_transcoder_writes_the_stock_bytes_and_reads_them_back(value: Any) -> None:
    stock, fast = _transcoders()
    data = fast.encode(value)
    assert data == stock.encode(value)
    assert fast.decode(data) == stock.decode(data)
    decoded = fast.decode(data)
    for key, original in value.items():
        expected = [list(p) for p in original] if isinstance(original, tuple) else original
        assert decoded[key] == expected
        assert type(decoded[key]) is (list if isinstance(original, tuple) else type(original))


def test_fast_transcoder_keeps_the_seconds_of_an_odd_utc_offset() -> None:
    _, fast = _transcoders()
    value = datetime(2026, 11, 2, 9, 30, tzinfo=ODD_OFFSET)
    assert b'"2026-11-02T09:30:00+05:30:07"' in fast.encode({"t": value})
    assert fast.decode(fast.encode({"t": value}))["t"].utcoffset() == ODD_OFFSET.utcoffset(None)


def test_fast_transcoder_refuses_unregistered_types_with_the_stock_message() -> None:
    stock, fast = _transcoders()
    for transcoder in (stock, fast):
        with pytest.raises(TranscodingNotRegisteredError, match="<class 'set'> is not serial"):
            transcoder.encode({"ids": {1, 2}})
        with pytest.raises(TranscodingNotRegisteredError, match="name 'money_v2' is not deser"):
            transcoder.decode(b'{"a":{"_type_":"money_v2","_data_":"1"}}')


def test_fast_transcoder_keeps_a_transcoding_that_renders_otherwise() -> None:
    """A date transcoding that does not write ISO dates is used as is, not bypassed."""

    class DateAsOrdinal(DateAsISO):
        name = "date_ordinal"

        def encode(self, obj: date) -> str:
            return str(obj.toordinal())

        def decode(self, data: str) -> date:
            return date.fromordinal(int(data))

    fast = FastJSONTranscoder()
    fast.register(DateAsOrdinal())
    data = fast.encode({"d": date(2026, 11, 2)})
    assert data == b'{"d":{"_type_":"date_ordinal","_data_":"739922"}}'
    assert fast.decode(data) == {"d": date(2026, 11, 2)}


# -- the application ----------------------------------------------------------------------------
def _customer(number: str) -> Customer:
    return Customer.register(number=number, name=f"Customer {number}", segment="S1",
                             credit_limit=Decimal(5000), currency="EUR", risk_class="B",
                             head_office_id=None, source_id=f"c-{number}", actor="erp",
                             business_date=D)


def test_collections_writes_through_the_fast_path(app: Collections) -> None:
    assert isinstance(app.recorder, FastApplicationRecorder)
    assert isinstance(app.mapper.transcoder, FastJSONTranscoder)
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


# -- FastSave -----------------------------------------------------------------------------------
# Application.save of eventsourcing 9.5.x, which FastSave.save mirrors. If this changes, the
# library's save changed: re-read it and bring FastSave.save in line, then update the digest.
APPLICATION_SAVE_SHA256 = "4e9747d14b8fd046"
# EventStore.put and Mapper.to_stored_event, which FastEventStore.put and
# SealingMapper.to_stored_event mirror (the same: re-read, bring in line, update).
EVENT_STORE_PUT_SHA256 = "7cbbe45730a0d3b9"
MAPPER_TO_STORED_SHA256 = "ff9e72e538d73a3a"
# Mapper.to_domain_event, which SealingMapper.to_domain_events mirrors (the same).
MAPPER_TO_DOMAIN_SHA256 = "6ec02f2a3b6e233a"


@pytest.mark.parametrize(("function", "digest"), [
    (Application.save, APPLICATION_SAVE_SHA256),
    (EventStore.put, EVENT_STORE_PUT_SHA256),
    (Mapper.to_stored_event, MAPPER_TO_STORED_SHA256),
    (Mapper.to_domain_event, MAPPER_TO_DOMAIN_SHA256)])
def test_fast_save_mirrors_the_library_save_it_replaces(function: Any, digest: str) -> None:
    source = inspect.getsource(function)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == digest


def test_events_are_stored_and_recorded_as_the_library_stores_them(database: Database) -> None:
    app = Collections(database)
    try:
        customer = _customer("M1")
        customer.add_contact("k1", name="Jeanne Martin", email="j@acme.example", phone=None,
                             role=None, actor="alice", business_date=D)
        events = list(customer.pending_events)
        stock = Mapper(transcoder=app.mapper.transcoder)
        plain = events[0]
        assert app.mapper.to_stored_event(plain) == stock.to_stored_event(plain)
        assert type(app.events) is FastEventStore
        recordings = app.events.put(customer.collect_events())
        library = EventStore(mapper=app.mapper, recorder=app.recorder)
        again = _customer("M2").collect_events()
        expected = library.put(again)
        assert {type(r) for r in recordings} == {type(r) for r in expected} == {Recording}
        assert {type(r.notification) for r in recordings + expected} == {Notification}
        assert [(r.notification.id, r.notification.topic, r.domain_event) for r in recordings] \
            == [(1, "ledger_collect.Customer.Registered", events[0]),
                (2, "ledger_collect.Customer.ContactAdded", events[1])]
        assert [vars(r.notification).keys() for r in recordings[:1]] == [
            vars(r.notification).keys() for r in expected]
        sealed = recordings[1].notification.state
        assert b"Jeanne" not in sealed
        assert app.mapper.to_domain_event(recordings[1].notification) == events[1]
        stored = [r.notification for r in recordings]
        decoded = app.mapper.to_domain_events(stored)  # the bulk path: the library's result
        assert decoded == events
        assert [vars(e) for e in decoded] == [vars(e) for e in events]
        assert [type(e) for e in decoded] == [type(e) for e in events]
    finally:
        app.close()


def test_fast_save_records_what_the_library_save_records(database: Database) -> None:
    assert Collections.save is FastSave.save  # Collections saves through FastSave
    fast = Collections(database)
    try:
        customer = _customer("F1")
        customer.assign("alice", actor="sup", business_date=D)
        other = _customer("F2")
        pending = other.collect_events()  # domain events passed directly, as the library allows
        recordings = fast.save(customer, None, *pending)
        assert [(r.domain_event.originator_id, r.notification.id) for r in recordings] == [
            (customer.id, 1), (customer.id, 2), (other.id, 3)]
        assert customer.pending_events == []
        assert fast.repository.get(customer.id).specialist == "alice"
        customer.assign("bob", actor="sup", business_date=D)
        stale = fast.repository.get(customer.id)
        stale.assign("carol", actor="sup", business_date=D)
        fast.save(customer)
        with pytest.raises(IntegrityError):
            fast.save(stale)
    finally:
        fast.close()
