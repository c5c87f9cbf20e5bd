"""A running job's progress: the body's ``progress(done, total)`` is written at most once a
second (the first and last figures always), visible to others while the body still works,
and a write that fails never fails the job."""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from model_helpers import run_async

from ledger_collect.commands.application import Collections
from ledger_collect.commands.job_commands import request_job_run
from ledger_collect.domain.job_run import FINISHED
from ledger_collect.jobs.progress import ProgressRecorder, progress_by_run
from ledger_collect.jobs.registry import Job
from ledger_collect.jobs.runs import load_run, run_attempt
from ledger_collect.storage.database import Database

D = date(2026, 11, 23)


def _row(database: Database, run_id: UUID) -> tuple[int, int, int] | None:
    with database.connect() as conn:
        return conn.execute("SELECT attempt, done, total FROM job_progress WHERE run_id = %s",
                            (run_id,)).fetchone()


def _requested(app: Collections, job: str) -> UUID:
    return app.run(request_job_run, job=job, run_key="k", trigger="manual", actor="sue",
                   business_date=D).result


def test_a_figure_is_written_at_most_once_a_second_the_first_and_last_always(
        app: Collections, database: Database) -> None:
    now = [100.0]
    told: list[tuple[int, int]] = []
    run_id = UUID(int=7)
    recorder = ProgressRecorder(app, run_id, 2, lambda d, t: told.append((d, t)),
                                clock=lambda: now[0])
    try:
        recorder(0, 1000)  # the first: written
        assert (_row(database, run_id), recorder.writes) == ((2, 0, 1000), 1)
        for done, at in ((100, 100.4), (200, 100.99)):  # within the second: told, not written
            now[0] = at
            recorder(done, 1000)
        assert (_row(database, run_id), recorder.writes) == ((2, 0, 1000), 1)
        now[0] = 101.0  # a second after the last write
        recorder(300, 1000)
        assert (_row(database, run_id), recorder.writes) == ((2, 300, 1000), 2)
        now[0] = 101.1
        recorder(1000, 1000)  # the last: written at once
        assert (_row(database, run_id), recorder.writes) == ((2, 1000, 1000), 3)
        assert told == [(0, 1000), (100, 1000), (200, 1000), (300, 1000), (1000, 1000)]
    finally:
        recorder.close()


def test_others_see_the_progress_while_the_body_works(app: Collections,
                                                      database: Database) -> None:
    halfway, carry_on = threading.Event(), threading.Event()
    seen: list[Any] = []

    def body(app: Collections, *, business_date: date, progress: Any) -> dict[str, int]:
        progress(0, 40)
        progress(20, 40)  # within the second: told, and written on the way out at the latest
        halfway.set()
        assert carry_on.wait(10)
        progress(40, 40)
        return {"things": 40}

    run_id = _requested(app, "counting")
    worker = threading.Thread(target=run_attempt, args=(app, Job("counting", body, "counts"),
                                                        run_id), kwargs={"worker": "w"})
    worker.start()
    try:
        assert halfway.wait(10)
        seen.append(run_async(database, progress_by_run, [run_id])[run_id])
    finally:
        carry_on.set()
        worker.join(10)
    assert (seen[0].attempt, seen[0].done, seen[0].total) == (1, 0, 40)
    final = run_async(database, progress_by_run, [run_id, UUID(int=1)])
    assert list(final) == [run_id]
    assert (final[run_id].done, final[run_id].total) == (40, 40)
    assert load_run(app, run_id).status == FINISHED


def test_a_figure_that_cannot_be_written_does_not_fail_the_job(
        app: Collections, database: Database, caplog: pytest.LogCaptureFixture) -> None:
    with database.connect() as conn:
        conn.execute("ALTER TABLE job_progress RENAME TO job_progress_away")

    def body(app: Collections, *, business_date: date, progress: Any) -> dict[str, int]:
        for done in range(11):
            progress(done, 10)
        return {"things": 10}

    run_id = _requested(app, "counting")
    with caplog.at_level(logging.WARNING, "ledger_collect.jobs.progress"):
        run_attempt(app, Job("counting", body, "counts"), run_id, worker="w")
    run = load_run(app, run_id)
    assert (run.status, run.counts) == (FINISHED, {"things": 10})
    assert "its progress could not be written" in caplog.text
