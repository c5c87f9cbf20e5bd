"""The job runs read model: each run's row as its events leave it (attempts, failures in order,
counts, times), the list newest first in keyset pages with its filters, each job's latest run;
followed live it equals a rebuild, and it takes events no command writes today."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from model_helpers import assert_equals_rebuild, follow_while, head, run_async
from test_poison_events import HUGE

from ledger_collect.commands.application import Collections
from ledger_collect.commands.job_commands import (
    fail_job_run,
    finish_job_run,
    request_job_run,
    start_job_run,
)
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.job_runs import (
    RunFilter,
    cleaned_text,
    job_runs_by_id,
    last_runs,
    list_job_runs,
)
from ledger_collect.storage.database import Database

D = date(2026, 11, 23)
BY = {"actor": "jobs", "business_date": D}


def _request(app: Collections, job: str, key: str, day: date = D, trigger: str = "scheduled",
             actor: str = "scheduler") -> UUID:
    return app.run(request_job_run, job=job, run_key=key, trigger=trigger, actor=actor,
                   business_date=day).result


def write_runs(app: Collections) -> dict[str, UUID]:
    """A run retried once then finished, one failed for good, one running, one requested;
    over three business days and two jobs."""
    done = _request(app, "promise-valuation", "2026-11-21T05:30:00+00:00", D - timedelta(2))
    app.run(start_job_run, done, worker="w1:10:1", **BY)
    app.run(fail_job_run, done, error="OperationalError: the server went away", final=False,
            **BY)
    app.run(start_job_run, done, worker="w2:20:1", **BY)
    app.run(finish_job_run, done, counts={"valued": 12, "kept": 9, "broken": 3}, **BY)
    failed = _request(app, "worklist-rankings", "2026-11-22", D - timedelta(1), "manual", "sue")
    app.run(start_job_run, failed, worker="w1:10:2", **BY)
    app.run(fail_job_run, failed, error="StrategyError: no active strategy", final=True, **BY)
    running = _request(app, "promise-valuation", "2026-11-23T05:30:00+00:00")
    app.run(start_job_run, running, worker="w2:20:3", **BY)
    waiting = _request(app, "worklist-rankings", "2026-11-23T06:00:00+00:00")
    return {"done": done, "failed": failed, "running": running, "waiting": waiting}


def test_each_run_is_one_row_with_its_attempts_failures_counts_and_times(
        app: Collections, database: Database) -> None:
    runs = write_runs(app)
    catch_up(app, "job_runs")
    found = run_async(database, job_runs_by_id, list(runs.values()))
    done, failed = found[runs["done"]], found[runs["failed"]]
    assert (done.job, done.status, done.trigger, done.requested_by, done.business_date,
            done.attempts, done.worker, done.error) == (
        "promise-valuation", "finished", "scheduled", "scheduler", D - timedelta(2), 2,
        "w2:20:1", None)
    assert done.counts == {"valued": 12, "kept": 9, "broken": 3}
    assert [(f["attempt"], f["error"], f["final"]) for f in done.failures] == [
        (1, "OperationalError: the server went away", False)]
    assert done.requested_at < done.started_at < done.attempt_started_at < done.ended_at
    assert (failed.status, failed.attempts, failed.error, failed.requested_by,
            failed.trigger) == ("failed", 1, "StrategyError: no active strategy", "sue",
                                "manual")
    assert failed.failures[0]["final"] is True and failed.ended_at is not None
    running, waiting = found[runs["running"]], found[runs["waiting"]]
    assert (running.status, running.attempts, running.ended_at) == ("running", 1, None)
    assert (waiting.status, waiting.attempts, waiting.started_at, waiting.counts,
            waiting.failures) == ("requested", 0, None, {}, [])


def test_the_list_is_newest_first_in_pages_filtered_by_job_status_and_business_date(
        app: Collections, database: Database) -> None:
    runs = write_runs(app)
    catch_up(app, "job_runs")
    newest_first = [runs[k] for k in ("waiting", "running", "failed", "done")]
    first = run_async(database, list_job_runs, first=3)
    assert [r.id for r in first.items] == newest_first[:3] and first.has_next_page
    rest = run_async(database, list_job_runs, first=3, after=first.end_cursor)
    assert [r.id for r in rest.items] == newest_first[3:] and not rest.has_next_page

    def ids(**narrowing: Any) -> list[UUID]:
        return [r.id for r in run_async(database, list_job_runs, RunFilter(**narrowing)).items]

    assert ids(job="promise-valuation") == [runs["running"], runs["done"]]
    assert ids(statuses=["failed", "requested"]) == [runs["waiting"], runs["failed"]]
    assert ids(since=D - timedelta(1)) == newest_first[:3]
    assert ids(since=D + timedelta(1)) == []
    assert ids(job="dunning") == []
    latest = run_async(database, last_runs, ["promise-valuation", "worklist-rankings", "x"])
    assert {job: r.id for job, r in latest.items()} == {
        "promise-valuation": runs["running"], "worklist-rankings": runs["waiting"]}


def test_followed_live_it_equals_a_rebuild(app: Collections, database: Database) -> None:
    catch_up(app, "job_runs")
    follow_while(app, database, ["job_runs"], lambda: write_runs(app), page_size=3)
    assert_equals_rebuild(app, database, "job_runs")


def _saved_with(app: Collections, command: Any, *args: Any, **changes: Any) -> Any:
    """Run ``command`` and save its event with ``changes``: what an older version let through
    (or what nothing checks: a count's name)."""
    batch = app.batch()
    result = command(batch, *args)
    for aggregate in batch.changed():
        for event in aggregate.pending_events:
            for name, value in changes.items():
                if name in {f.name for f in dataclasses.fields(event)}:
                    object.__setattr__(event, name, value)
    app.save_batch(batch)
    return result


def test_it_takes_what_the_log_may_hold(app: Collections, database: Database) -> None:
    run_id = _saved_with(app, lambda batch: request_job_run(
        batch, job="J", run_key="k", trigger="manual", actor="sue", business_date=D),
        job=HUGE, run_key="k\x00ey", business_date=date.max)
    _saved_with(app, lambda batch: start_job_run(batch, run_id, worker="w", **BY),
                worker="w\x00orker")
    _saved_with(app, lambda batch: fail_job_run(batch, run_id, error="e", final=False, **BY),
                error="bad \x00 byte")
    _saved_with(app, lambda batch: start_job_run(batch, run_id, worker="w", **BY))
    _saved_with(app, lambda batch: finish_job_run(batch, run_id, counts={"n": 1}, **BY),
                counts={"val\x00ued": 2, "big": 2 ** 40})
    assert catch_up(app, "job_runs") == {"job_runs": head(database)}
    row = run_async(database, job_runs_by_id, [run_id])[run_id]
    assert len(row.job) == 500 and row.job.startswith(HUGE[:400])
    assert (row.run_key, row.business_date, row.error, row.worker) == (
        "key", date.max, None, "w")
    assert row.failures[0]["error"] == "bad  byte"
    assert row.counts == {"valued": 2, "big": 2 ** 40}
    assert cleaned_text("\udcffa\x00") == "\ufffd" * 3 + "a"  # as tolerant cleans text
    assert run_async(database, last_runs, [row.job])[row.job].id == run_id
    assert_equals_rebuild(app, database, "job_runs")
