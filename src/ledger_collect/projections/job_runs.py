"""Job runs: one row per run of a job, from its JobRun events (``domain.job_run``).

Writer: the runs a page touches are loaded with one query, folded in memory and written back
with one upsert. Times are the events' record times (a run has no other clock): requested,
the first and the latest attempt's start, and its end (finished, or failed for good). Every
failure is kept in order, with its attempt, so a run retried twice shows both errors.

What the log may hold beyond what today's commands write is taken as it is: text with NUL
(``tolerant``), a job name too long for an index (a ``Key``), a count's name with NUL (cleaned
here, as jsonb keys are not cleaned by ``tolerant``), and events of a run whose request the
model never saw (ignored, as in every model).

Readers (asyncpg): ``list_job_runs`` (newest first, keyset pages), ``job_runs_by_id`` and
``last_runs`` (each job's latest run, for the schedule).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.job_run import JobRun
from ledger_collect.projections import Projection
from ledger_collect.projections.rows import Page, PageRows, Where, fetch_page, orders
from ledger_collect.projections.tables import Json, Key, Table


# -- tables ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobRunRecord:
    id: UUID
    job: Key
    run_key: str
    trigger: str
    status: Key
    requested_by: str
    business_date: date
    requested_at: datetime
    started_at: datetime | None
    attempt_started_at: datetime | None
    ended_at: datetime | None
    attempts: int
    worker: str | None
    counts: Json  # name -> count, in the order the job returned them (stored as pairs)
    error: str | None
    failures: Json  # [{"attempt": n, "error": text, "final": bool, "at": iso time}]


JOB_RUN_TABLE = Table("job_runs", JobRunRecord)


class JobRuns(Projection):
    name = "job_runs"
    declared = (JOB_RUN_TABLE,)
    handles = (JobRun.Requested, JobRun.Started, JobRun.Finished, JobRun.Failed)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, self.declared)
        page.fold_records(events, _TABLE, _CREATED, _FOLD)
        page.write()


def _requested(e: Any) -> dict[str, Any]:
    return {"id": e.originator_id, "job": e.job, "run_key": e.run_key, "trigger": e.trigger,
            "status": "requested", "requested_by": e.actor, "business_date": e.business_date,
            "requested_at": e.timestamp, "started_at": None, "attempt_started_at": None,
            "ended_at": None, "attempts": 0, "worker": None, "counts": [], "error": None,
            "failures": []}


def _started(row: dict[str, Any], e: Any) -> None:
    row.update(status="running", attempts=e.attempt, worker=e.worker,
               attempt_started_at=e.timestamp, error=None)
    if row["started_at"] is None:
        row["started_at"] = e.timestamp


def _finished(row: dict[str, Any], e: Any) -> None:
    row.update(status="finished", counts=_counts(e.counts), ended_at=e.timestamp)


def _failed(row: dict[str, Any], e: Any) -> None:
    failure = {"attempt": e.attempt, "error": e.error, "final": bool(e.final),
               "at": e.timestamp.isoformat()}
    row.update(status="failed" if e.final else "retrying", error=e.error,
               failures=[*row["failures"], failure])
    if e.final:
        row["ended_at"] = e.timestamp


def _counts(counts: Mapping[str, Any]) -> list[list[Any]]:
    """The counts as stored: [name, count] pairs in the job's order (a jsonb object would sort
    its keys), a name with NUL (or a lone surrogate) cleaned (``tolerant`` cleans values, not
    a mapping's keys)."""
    return [[cleaned_text(str(name)), count] for name, count in counts.items()]


def cleaned_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text.replace("\x00", "")


_CREATED: dict[type, Any] = {JobRun.Requested: _requested}
_FOLD: dict[type, Any] = {JobRun.Started: _started, JobRun.Finished: _finished,
                          JobRun.Failed: _failed}
_TABLE = {cls: JOB_RUN_TABLE for cls in JobRuns.handles}
assert set(_CREATED) | set(_FOLD) == set(JobRuns.handles)


# -- readers (asyncpg; the pool's search_path is the app's schema) ----------------------------
def _record(row: Any) -> JobRunRecord:
    """The record of a row whose JSON columns are text, as asyncpg reads them."""
    values = dict(row)
    values.update(counts=dict(json.loads(values["counts"])),
                  failures=json.loads(values["failures"]))
    return JobRunRecord(**values)


NEWEST_FIRST = replace(orders(requested_at=datetime)["requested_at"], descending=True)


@dataclass(frozen=True)
class RunFilter:
    """What the run list is narrowed to; each field narrows, None leaves it open."""

    job: str | None = None
    statuses: Sequence[str] | None = None
    since: date | None = None  # business dates from this day on


async def list_job_runs(pool: Any, given: RunFilter = RunFilter(), *, first: int | None = None,
                        after: str | None = None) -> Page[JobRunRecord]:
    """Runs, the latest requested first."""
    where = Where().when(given.job, "job = {}")
    if given.statuses:
        where.add("status = ANY({}::text[])", list(given.statuses))
    where.when(given.since, "business_date >= {}")
    return await fetch_page(pool, JOB_RUN_TABLE, where, NEWEST_FIRST, first, after, _record)


async def job_runs_by_id(pool: Any, ids: Sequence[UUID]) -> dict[UUID, JobRunRecord]:
    rows = await pool.fetch(f"SELECT {JOB_RUN_TABLE.select()} FROM job_runs"
                            f" WHERE id = ANY($1::uuid[])", list(ids))
    return {row["id"]: _record(row) for row in rows}


async def last_runs(pool: Any, jobs: Sequence[str]) -> dict[str, JobRunRecord]:
    """Each named job's latest run (by the time it was requested), for those that ran."""
    rows = await pool.fetch(
        f"SELECT DISTINCT ON (job) {JOB_RUN_TABLE.select()} FROM job_runs"
        f" WHERE job = ANY($1::text[]) ORDER BY job, requested_at DESC, id DESC", list(jobs))
    return {row["job"]: _record(row) for row in rows}
