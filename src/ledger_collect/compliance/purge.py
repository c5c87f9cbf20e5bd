"""Deleting whole streams from the store in short transactions that writers barely notice.

Every writer of the log takes ``LOCK TABLE collections_events IN EXCLUSIVE MODE`` (one writer
at a time, so notification ids follow commit order). A purge takes the same lock, deletes a
batch of whole streams and appends ``ComplianceRun.StreamsPurged`` naming them, then commits:
a stream is gone exactly when the log says so, and the event takes its notification id in
order like any other. Writers wait for the purge's transaction, so it is kept short: each
batch's hold of the lock is measured, and the next batch shrinks when a hold passed
``max_hold`` and grows while holds stay well under it.

``keep``: for streams that were archived, the last version the archive holds. A stream that
has been written to since (a later version in the store) is not purged: it is not whole in the
archive. The check is made under the lock, so no event can slip in between.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg import sql

from ledger_collect.domain.compliance_run import ComplianceRun

if TYPE_CHECKING:
    import psycopg

    from ledger_collect.commands.application import Collections

#: The longest a purge batch should hold the writers' lock, in seconds.
MAX_HOLD = 0.05
FIRST_BATCH, LARGEST_BATCH = 50, 2000
#: What a stream not archived is compared with: no version is later.
NEVER = 2**62


@dataclass
class PurgeReport:
    streams: int = 0
    events: int = 0
    batches: int = 0
    skipped: list[UUID] = field(default_factory=list)  # written to since they were archived
    longest_hold: float = 0.0  # seconds


class Purger:
    """Purges streams for one ``ComplianceRun`` (loaded from, and kept in step with, the
    store)."""

    #: Called at each step of a batch: "deleting" (inside its transaction, the event
    #: appended, not committed yet) and "purged" (committed): crash tests kill the process
    #: there.
    on_step: Callable[[str], None] | None = None

    def __init__(self, app: Collections, run: ComplianceRun, *, actor: str,
                 max_hold: float = MAX_HOLD) -> None:
        self.app, self.run, self.actor = app, run, actor
        self.max_hold = max_hold
        self.batch_size = FIRST_BATCH
        self.report = PurgeReport()
        schema = app.database.schema
        table = app.recorder.events_table_name
        self._events = sql.Identifier(schema, table)
        self._channel = sql.Identifier(table.replace(".", "_"))

    def purge(self, conn: psycopg.Connection[Any], stream_ids: Sequence[UUID],
              keep: Mapping[UUID, int] | None = None,
              progress: Callable[[int], None] | None = None) -> PurgeReport:
        """Delete these streams, whole, a batch per transaction (``conn``: autocommit)."""
        pending = list(stream_ids)
        while pending:
            chunk, pending = pending[:self.batch_size], pending[self.batch_size:]
            held = self._purge_batch(conn, chunk, keep)
            self.report.longest_hold = max(self.report.longest_hold, held)
            if held > self.max_hold:
                self.batch_size = max(1, self.batch_size // 2)
            elif held < self.max_hold / 4:
                self.batch_size = min(LARGEST_BATCH, self.batch_size * 2)
            if progress is not None:
                progress(len(chunk))
        return self.report

    def _purge_batch(self, conn: psycopg.Connection[Any], chunk: list[UUID],
                     keep: Mapping[UUID, int] | None) -> float:
        collecting = gc.isenabled()
        gc.disable()  # a full pass over a large heap would stretch the lock's hold
        try:
            return self._purge_batch_once(conn, chunk, keep)
        except BaseException:
            self.run = reload_run(self.app, self.run.id)  # its event was not stored
            raise
        finally:
            if collecting:
                gc.enable()

    def _purge_batch_once(self, conn: psycopg.Connection[Any], chunk: list[UUID],
                          keep: Mapping[UUID, int] | None) -> float:
        kept = ([NEVER] * len(chunk) if keep is None
                else [keep.get(stream_id, -1) for stream_id in chunk])
        kept_array = "{" + ",".join(map(str, kept)) + "}"
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}; LOCK TABLE {} IN EXCLUSIVE MODE")
                         .format(sql.Literal(f"{self.app.settings.lock_timeout}s"),
                                 self._events))
            locked = time.perf_counter()
            # one statement: the streams written to since (skipped), and the others deleted
            grown, doomed, deleted = conn.execute(sql.SQL(
                "WITH chunk (id, kept) AS (SELECT * FROM unnest(%s::uuid[], %s::bigint[])),"
                " grown AS (SELECT DISTINCT c.id FROM chunk c JOIN {events} e"
                "  ON e.originator_id = c.id AND e.originator_version > c.kept),"
                " gone AS (DELETE FROM {events} e USING chunk c WHERE e.originator_id = c.id"
                "  AND c.id NOT IN (SELECT id FROM grown) RETURNING e.originator_id)"
                " SELECT (SELECT coalesce(array_agg(id), '{{}}') FROM grown),"
                " (SELECT coalesce(array_agg(DISTINCT originator_id), '{{}}') FROM gone),"
                " (SELECT count(*) FROM gone)").format(events=self._events),
                (uuid_array(chunk), kept_array)).fetchone()
            self.report.skipped.extend(grown)
            if doomed:
                self._append_purged(conn, doomed, deleted)
                self.report.streams += len(doomed)
                self.report.events += deleted
                self.report.batches += 1
                self._step("deleting")
        held = time.perf_counter() - locked
        if doomed:
            self._step("purged")
        return held

    def _step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)

    def _append_purged(self, conn: psycopg.Connection[Any], doomed: list[UUID],
                       deleted: int) -> None:
        """Append the run's ``StreamsPurged`` in this transaction (the lock is held, as the
        library's writers hold it), and tell the log's subscribers like they do. The event
        carries each customer's latest activity among the purged streams, as the retention
        model has it: a customer's last activity must not move earlier when its streams go."""
        model = sql.Identifier(self.app.database.schema, "retention_streams")
        active = conn.execute(sql.SQL(
            "SELECT customer_id, max(last_event_on) FROM {} WHERE stream_id = ANY(%s::uuid[])"
            " GROUP BY customer_id").format(model), (uuid_array(doomed),)).fetchall() if (
            conn.execute("SELECT to_regclass(%s)", (model.as_string(conn),)).fetchone()[0]
        ) else []  # without the retention model there is no date to carry
        self.run.streams_purged(stream_ids=doomed, events=deleted, actor=self.actor,
                                last_activity=dict(active))
        for stored in map(self.app.mapper.to_stored_event, self.run.collect_events()):
            conn.execute(sql.SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state)"
                " VALUES (%s, %s, %s, %s)").format(self._events),
                (stored.originator_id, stored.originator_version, stored.topic, stored.state))
        conn.execute(sql.SQL("NOTIFY {}").format(self._channel))


def uuid_array(ids: Sequence[UUID]) -> str:
    """Ids as one ``uuid[]`` literal: psycopg adapts a list element by element, slowly."""
    return "{" + ",".join(map(str, ids)) + "}"


def reload_run(app: Collections, run_id: UUID) -> ComplianceRun:
    run: ComplianceRun = app.repository.get(run_id)
    return run
