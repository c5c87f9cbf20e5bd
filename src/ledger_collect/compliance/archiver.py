"""The archive run: streams whose policy says archive are written to the archive, verified,
then purged from the store; and the purge run, which deletes without archiving.

The order is what makes a crash harmless. A chunk of due streams is read whole from the store
and handed to ``Archive.append_segment``, which writes the segment, reads it back, checks it,
signs the manifest and indexes the streams (``archived_streams``) before it returns. Only then
are the streams purged (``purge``), in batches of whole streams, each batch deleting only what
the archive holds. A run killed anywhere leaves each stream in the store, in a verified
segment, or both; the next run first reconciles the archive and purges every stream that is
archived but still in the store, then carries on with what is due.

One run at a time (an advisory lock); each run is logged as a ``ComplianceRun``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg import sql

from ledger_collect.compliance.purge import MAX_HOLD, Purger, uuid_array
from ledger_collect.domain.base import DomainError
from ledger_collect.domain.compliance_run import ARCHIVE, PURGE, ComplianceRun
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.eventlog import lock_key
from ledger_collect.runtime.collector import tuned_collector

if TYPE_CHECKING:
    import psycopg

    from ledger_collect.commands.application import Collections

Progress = Callable[[int, int], None]
#: Who the compliance log names when the job runs the policies.
ACTOR = "compliance"
#: The read model the runs choose what is due from, caught up first.
READS = ("retention_streams",)
#: Streams per archive segment (and per chunk of a purge run).
SEGMENT_STREAMS = 10_000


class ComplianceRunningError(DomainError):
    """Another archive or purge run holds the store."""


def _quiet(done: int, total: int) -> None:
    pass


@tuned_collector()
def archive_run(app: Collections, *, business_date: date, progress: Progress = _quiet,
                actor: str = ACTOR, archive: Any = None,
                segment_streams: int = SEGMENT_STREAMS,
                max_hold: float = MAX_HOLD) -> dict[str, int]:
    """Archive and purge every stream whose archive is due on ``business_date``; counts:
    ``streams``/``events`` archived, ``segments`` written, ``purged_streams``/
    ``purged_events``, ``resumed`` (archived before, purged now), ``skipped`` (written to
    since archived), ``longest_hold_ms``. ``archive``: ``open_archive``'s unless given."""
    from ledger_collect.compliance.archive import open_archive
    from ledger_collect.compliance.retention import current_policies, due_streams

    archive = archive if archive is not None else open_archive(app.settings, app.database)
    with _exclusive(app) as conn:
        catch_up(app, READS)
        purger = Purger(app, _started(app, ARCHIVE, business_date, actor), actor=actor,
                        max_hold=max_hold)
        archive.reconcile()
        counts = Counter(streams=0, events=0, segments=0)
        leftover = _archived_but_hot(conn)
        purger.purge(conn, list(leftover), keep=leftover)
        counts["resumed"] = purger.report.streams
        due_all = _all_due(conn, due_streams, current_policies(app), business_date, ARCHIVE)
        progress(0, len(due_all))
        for start, due, versions, events in _read_ahead(app, due_all, segment_streams):
            classes = {d.stream_id: d.record_class for d in due}
            if events:
                info = archive.append_segment(events)
                fresh = _last_versions(events)
                purger.run.segment_written(
                    segment=info.number, streams=Counter(classes[s] for s in fresh),
                    events=len(events), actor=actor)
                app.save(purger.run)
                counts.update(streams=len(fresh), events=len(events), segments=1)
                versions.update(fresh)
            purger.purge(conn, list(versions), keep=versions)
            progress(start + len(due), len(due_all))
        return _finish(app, purger, counts)


@tuned_collector()
def purge_run(app: Collections, *, business_date: date, progress: Progress = _quiet,
              actor: str = ACTOR, chunk: int = SEGMENT_STREAMS,
              max_hold: float = MAX_HOLD) -> dict[str, int]:
    """Delete, without archiving, every stream whose purge is due on ``business_date``."""
    from ledger_collect.compliance.retention import current_policies, due_streams

    with _exclusive(app) as conn:
        catch_up(app, READS)
        purger = Purger(app, _started(app, PURGE, business_date, actor), actor=actor,
                        max_hold=max_hold)
        due = [d.stream_id for d in _all_due(conn, due_streams, current_policies(app),
                                             business_date, PURGE)]
        progress(0, len(due))
        for start in range(0, len(due), chunk):
            purger.purge(conn, due[start:start + chunk])
            progress(min(start + chunk, len(due)), len(due))
        return _finish(app, purger, Counter())


def _archived_rows(_: Any) -> Callable[[Sequence[Any]], Any]:
    """Rows as ``ArchivedEvent``s, the columns in their field order."""
    from ledger_collect.compliance.archive import ArchivedEvent

    return lambda row: ArchivedEvent(*row)


def read_streams(conn: psycopg.Connection[Any], app: Collections,
                 stream_ids: Sequence[UUID]) -> list[Any]:
    """Every event of these streams as stored, by stream and version."""
    if not stream_ids:
        return []
    with conn.cursor(binary=True, row_factory=_archived_rows) as cursor:
        return cursor.execute(sql.SQL(
            "SELECT originator_id, originator_version, topic, state, notification_id FROM {}"
            " WHERE originator_id = ANY(%s::uuid[]) ORDER BY originator_id, originator_version"
            ).format(sql.Identifier(app.database.schema, app.recorder.events_table_name)),
            (uuid_array(stream_ids),)).fetchall()


def _read_ahead(app: Collections, due_all: list[Any], size: int
                ) -> Iterator[tuple[int, list[Any], dict[UUID, int], list[Any]]]:
    """Each chunk of ``size`` due streams with the versions the archive holds of them and
    their events not archived yet. The next chunk is read on a connection of its own, in a
    thread, while the caller archives and purges this one: reading changes nothing, and the
    purge checks under the writers' lock that a stream is still whole in the archive."""
    starts = range(0, len(due_all), size)
    if not starts:
        return
    with app.database.connect() as reader, \
            ThreadPoolExecutor(1, thread_name_prefix="archive-read") as pool:
        def read(start: int) -> tuple[int, list[Any], dict[UUID, int], list[Any]]:
            due = due_all[start:start + size]
            ids = [d.stream_id for d in due]
            versions = _archived_versions(reader, ids)
            return start, due, versions, _not_archived(read_streams(reader, app, ids), versions)

        pending = pool.submit(read, starts[0])
        for following in [*starts[1:], None]:
            chunk = pending.result()
            if following is not None:
                pending = pool.submit(read, following)
            yield chunk


# -- the parts ----------------------------------------------------------------------------------
@contextmanager
def _exclusive(app: Collections) -> Iterator[psycopg.Connection[Any]]:
    """A connection of the run's own, holding the one-run-at-a-time lock while it runs."""
    key = lock_key(app.database.schema, "compliance", "run")
    with app.database.connect() as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not (row and row[0]):
            raise ComplianceRunningError("another archive or purge run is under way")
        try:
            yield conn
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _started(app: Collections, action: str, business_date: date, actor: str) -> ComplianceRun:
    """The run of ``action`` for the date, started, or resumed when it was started before."""
    run_id = ComplianceRun.create_id(action, business_date)
    found = app.load_aggregates([run_id]).get(run_id)
    run: ComplianceRun
    if found is None:
        run = ComplianceRun.start(action=action, run_date=business_date, actor=actor)
    else:
        run = found  # type: ignore[assignment]
        run.resume(actor=actor)
    app.save(run)
    return run


def _finish(app: Collections, purger: Purger, counts: Counter[str]) -> dict[str, int]:
    report = purger.report
    counts.update(purged_streams=report.streams, purged_events=report.events,
                  skipped=len(report.skipped))
    result = {**counts, "longest_hold_ms": round(report.longest_hold * 1000)}
    purger.run.finish(result, actor=purger.actor)
    app.save(purger.run)
    return result


def _all_due(conn: psycopg.Connection[Any], due_streams: Any, policies: Any, today: date,
             action: str) -> list[Any]:
    """Every stream due, read once: the run works through this list, and knows its length."""
    found: list[Any] = []
    while due := due_streams(conn, policies, today, action,
                             after=found[-1].stream_id if found else None, limit=50_000):
        found.extend(due)
    return found


def _not_archived(events: list[Any], versions: dict[UUID, int]) -> list[Any]:
    """The events of the streams the archive does not hold whole (a stream written to since
    it was archived is archived again, whole)."""
    if not versions:
        return events
    last = _last_versions(events)
    return [e for e in events if last[e.originator_id] > versions.get(e.originator_id, 0)]


def _last_versions(events: Sequence[Any]) -> dict[UUID, int]:
    """Each stream's last version (the events come by stream and version)."""
    return {event[0]: event[1] for event in events}


def _archived_versions(conn: psycopg.Connection[Any], stream_ids: list[UUID]) -> dict[UUID, int]:
    """The last version the archive holds of each of these streams it holds."""
    rows = conn.execute("SELECT stream_id, max(last_version) FROM archived_streams"
                        " WHERE stream_id = ANY(%s::uuid[]) GROUP BY stream_id",
                        (uuid_array(stream_ids),))
    return {r[0]: int(r[1]) for r in rows.fetchall()}


def _archived_but_hot(conn: psycopg.Connection[Any]) -> dict[UUID, int]:
    """Streams archived whose events are still in the store: a run died before their purge."""
    rows = conn.execute(
        "SELECT a.stream_id, max(a.last_version) FROM archived_streams a"
        " WHERE EXISTS (SELECT 1 FROM collections_events e WHERE e.originator_id = a.stream_id)"
        " GROUP BY a.stream_id")
    return {r[0]: int(r[1]) for r in rows.fetchall()}
