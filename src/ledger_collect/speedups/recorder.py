"""The PostgreSQL recorder's insert, sending a batch as four binary arrays.

The library's recorder spends most of a batched save outside the database: psycopg renders the
batch as one text literal of a composite-type array, which the server then parses again.
``BinaryInsert`` recorders send it as four binary arrays (ids, versions, topics, states) to
``INSERT … SELECT FROM unnest(…) RETURNING notification_id``. Everything else is the library's:
one transaction, the ``EXCLUSIVE`` table lock (one writer at a time, so notification ids are
issued in commit order), ``NOTIFY``, ids from ``RETURNING`` in insert order, a version conflict
raised as the library's ``IntegrityError``, and, for process recorders, the tracking row in the
same transaction. Two more departures from the library's recorder:

* batches over 64 KB are sent outside psycopg's pipeline mode, where the library's own insert
  hangs on a message the socket does not take at once (see ``BinaryInsert``);
* a lost database is reported after the connect timeout (``outage.retrying``), where the
  library's retried methods try ten times, each waiting that timeout (``fail_fast``).

A binary COPY was tried too: a little faster on the server for large batches, but it cannot
return ids, cannot be pipelined and needs the sequence reasoned about.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
)
from psycopg import Cursor, adapters, pq
from psycopg.adapt import Buffer, Dumper
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier

from ledger_collect.storage.outage import retrying

# -- binary arrays ------------------------------------------------------------------------------
# PostgreSQL's binary array format: ndim, has-nulls flag, element type oid, then per dimension
# its length and lower bound; then each element as a 4-byte length (-1: NULL) and its bytes.
_ARRAY_HEAD = struct.Struct(">iiiii").pack
_LENGTH = struct.Struct(">i").pack
_UUID_ELEMENT = struct.Struct(">i16s").pack
_INT8_ELEMENT = struct.Struct(">iq").pack
_NULL = _LENGTH(-1)
UUID_OID, INT8_OID, TEXT_OID, BYTEA_OID = 2950, 20, 25, 17


class _BinaryArray(bytes):
    """An array already in PostgreSQL's binary format; its dumper passes it through as is."""

    oid: int


class _UUIDArray(_BinaryArray):
    oid = 2951


class _Int8Array(_BinaryArray):
    oid = 1016


class _TextArray(_BinaryArray):
    oid = 1009


class _ByteaArray(_BinaryArray):
    oid = 1001


def _pass_through(array_class: type[_BinaryArray]) -> type[Dumper]:
    class PassThrough(Dumper):
        format = pq.Format.BINARY
        oid = array_class.oid

        def dump(self, obj: Buffer) -> Buffer:
            return obj

    return PassThrough


for _array_class in (_UUIDArray, _Int8Array, _TextArray, _ByteaArray):
    # Registered globally, before any pool connects: only these private classes are affected.
    adapters.register_dumper(_array_class, _pass_through(_array_class))

_topic_bytes: dict[str, bytes] = {}  # topic -> its array element; topics are few (event classes)


def _topic_element(topic: str | None) -> bytes:
    element = _topic_bytes.get(topic) if topic is not None else _NULL
    if element is None:
        encoded = topic.encode()  # type: ignore[union-attr]
        element = _LENGTH(len(encoded)) + encoded
        if len(_topic_bytes) < 10_000:
            _topic_bytes[topic] = element  # type: ignore[index]
    return element


def binary_columns(
    stored_events: Sequence[StoredEvent],
) -> tuple[_UUIDArray, _Int8Array, _TextArray, _ByteaArray]:
    """The batch as four binary arrays, one per column, in the batch's order."""
    ids: list[bytes] = []
    versions: list[bytes] = []
    topics: list[bytes] = []
    states: list[bytes] = []
    for event in stored_events:
        originator_id = event.originator_id
        if type(originator_id) is not UUID:
            originator_id = UUID(str(originator_id))
        ids.append(_UUID_ELEMENT(16, originator_id.int.to_bytes(16, "big")))  # UUID.bytes
        versions.append(_INT8_ELEMENT(8, event.originator_version))
        topics.append(_topic_element(event.topic))
        state = event.state
        if state is None:
            states.append(_NULL)
        else:
            states.append(_LENGTH(len(state)))
            states.append(state)
    n = len(stored_events)
    return (
        _UUIDArray(_ARRAY_HEAD(1, 0, UUID_OID, n, 1) + b"".join(ids)),
        _Int8Array(_ARRAY_HEAD(1, 0, INT8_OID, n, 1) + b"".join(versions)),
        _TextArray(_ARRAY_HEAD(1, 0, TEXT_OID, n, 1) + b"".join(topics)),
        _ByteaArray(_ARRAY_HEAD(1, 0, BYTEA_OID, n, 1) + b"".join(states)),
    )


# -- recorders ----------------------------------------------------------------------------------
def connect_window(recorder: Any) -> float:
    """How long a recorder tries to reach a lost database: its pool's connect timeout."""
    return float(recorder.datastore.pool.timeout)


def unretried(method: Any) -> Any:
    """The library's method without its retry decorator (ours replaces it)."""
    return getattr(method, "__func__", method).__wrapped__


class BinaryInsert:
    """Sends the batch's rows as four binary arrays; everything else is the library's: one
    transaction, the tracking row of a process recorder, the ``EXCLUSIVE`` table lock, NOTIFY,
    ids from RETURNING in insert order, psycopg errors mapped to the library's (a version
    conflict is its ``IntegrityError``), retried as ``outage.retrying`` says (a lost database for
    the connect timeout only, anything else as the library does).

    Small batches (a command's) go through the library's own ``insert_events``, pipelined.
    Large ones (an import's) are sent outside pipeline mode: psycopg 3.3's pipeline stops
    flushing after the last queued command even when the socket took only part of the
    message, and then waits for a result the server cannot send before it has read the whole
    message, for ever (``docs/performance.md`` says at which sizes the library's insert hung).
    """

    datastore: Any
    events_table_name: str
    lock_table_statements: list[Any]
    channel_name: str
    #: Batches whose states add up to more than this are not pipelined. A socket's send
    #: buffer takes a few hundred kilobytes at once (Linux's default), so a smaller message is
    #: always sent whole.
    pipeline_max_bytes = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.datastore.originator_id_type != "uuid":
            msg = "BinaryInsert recorders store uuid originator ids only"
            raise ProgrammingError(msg)
        schema, table = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        self.insert_columns_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b, %b, %b, %b) RETURNING notification_id"
        ).format(schema=schema, table=table)
        self.lock_and_notify_statement = SQL("; ").join(
            [*self.lock_table_statements, SQL("NOTIFY {}").format(Identifier(self.channel_name))]
        )

    @retrying(connect_window)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.datastore.enable_db_functions:
            msg = "BinaryInsert recorders never run in the database-functions mode"
            raise ProgrammingError(msg)
        if sum(len(e.state or b"") for e in stored_events) <= self.pipeline_max_bytes:
            library = unretried(super().insert_events)  # type: ignore[misc]
            return library(self, stored_events, **kwargs)  # type: ignore[no-any-return]
        return self._insert_unpipelined(stored_events, **kwargs)

    def _insert_unpipelined(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        columns = binary_columns(stored_events)  # before the lock: nobody waits while we build
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as curs:
                self._insert_events(curs, stored_events, **kwargs)  # type: ignore[attr-defined]
            with conn.cursor(row_factory=tuple_row) as curs:
                # One round trip: SET LOCAL lock_timeout; LOCK TABLE … EXCLUSIVE; NOTIFY.
                curs.execute(self.lock_and_notify_statement)
                curs.execute(self.insert_columns_statement, columns, binary=True)
                return [row[0] for row in curs.fetchall()]

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        """The pipelined path's statements (called by the library's ``insert_events``)."""
        columns = binary_columns(stored_events)
        self._lock_table(curs)  # type: ignore[attr-defined]
        self._notify_channel(curs)  # type: ignore[attr-defined]
        curs.row_factory = tuple_row  # type: ignore[assignment]  # ids only: no dict per row
        curs.execute(self.insert_columns_statement, columns, binary=True)

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[Any], stored_events: Sequence[StoredEvent], **_: Any
    ) -> list[int]:
        """The library's own, reading the tuple rows asked for above."""
        assert curs.statusmessage, curs.statusmessage
        assert curs.statusmessage.startswith("INSERT"), curs.statusmessage
        try:
            return [row[0] for row in curs.fetchall()]
        except psycopg.ProgrammingError as exc:
            msg = f"Couldn't get all notification IDs (expected {len(stored_events)})"
            raise ProgrammingError(msg) from exc


#: The library's recorder methods that retry ten times (``eventsourcing.utils.retry``).
_RETRIED = ("select_events", "select_notifications", "max_notification_id", "insert_tracking",
            "max_tracking_id", "has_tracking_id")


def fail_fast(cls: type[Any]) -> type[Any]:
    """``cls`` with the library's retried methods retried by ``outage.retrying``: a lost
    database is reported after the connect timeout, not after ten of them."""
    for name in _RETRIED:
        inner = getattr(getattr(cls, name, None), "__wrapped__", None)
        if inner is not None:
            setattr(cls, name, retrying(connect_window)(inner))
    return cls


@fail_fast
class FastApplicationRecorder(BinaryInsert, PostgresApplicationRecorder):
    """The library's application recorder with the batch sent in binary (and large batches
    outside pipeline mode)."""


@fail_fast
class FastProcessRecorder(BinaryInsert, PostgresProcessRecorder):
    """The library's process recorder (events and tracking row in one transaction), batch in
    binary. For process applications:
    ``PROCESS_RECORDER_TOPIC=ledger_collect.speedups.recorder:FastProcessRecorder``."""


def fast_application_recorder(factory: PostgresFactory) -> FastApplicationRecorder:
    """Our recorder, built as the library's factory builds its own (same table, same
    create-table switch)."""
    recorder = FastApplicationRecorder(
        datastore=factory.datastore,
        events_table_name=(factory.env.name.lower() or "stored") + "_events",
    )
    if factory.env_create_table():
        recorder.create_table()
    return recorder
