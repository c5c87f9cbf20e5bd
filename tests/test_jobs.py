"""Runs requested and done by a worker in the test's process, on the embedded broker (the
queue in the database) and on the machine's brokers when they are named: every promise valued
once, however often a run is requested or its message delivered; failures retried, then final."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date
from uuid import UUID

import pytest
from job_helpers import (
    VALUE_DAY,
    broker_settings,
    brokers,
    closing_brokers,  # noqa: F401 - a fixture
    given_promises,
    run_events,
    valued_per_promise,
)

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.job_run import FAILED, FINISHED, JobRun
from ledger_collect.jobs import registry
from ledger_collect.jobs.actors import request_run
from ledger_collect.jobs.worker import working
from ledger_collect.storage.database import Database

pytestmark = pytest.mark.usefixtures("closing_brokers")


@pytest.fixture(params=brokers())
def jobs_app(request: pytest.FixtureRequest, settings: Settings,
             database: Database) -> Iterator[Collections]:
    app = Collections(database, broker_settings(settings, request.param))
    yield app
    app.close()


def wait_for(app: Collections, run_id: UUID, *statuses: str, seconds: float = 30) -> JobRun:
    deadline = time.monotonic() + seconds
    while True:
        run = app.repository.get(run_id)
        if run.status in statuses:
            return run
        assert time.monotonic() < deadline, f"run {run_id} is still {run.status}"
        time.sleep(0.05)


def test_a_requested_run_is_done_by_a_worker(jobs_app: Collections) -> None:
    promises = given_promises(jobs_app, 30)
    run_id = request_run(jobs_app, "promise-valuation", business_date=VALUE_DAY,
                         trigger="manual", actor="sue")
    with working(jobs_app, threads=2):
        run = wait_for(jobs_app, run_id, FINISHED)
    assert run.counts == {"valued": 30, "broken": 30}
    assert (run.trigger, run.requested_by, run.run_date, run.attempts) == (
        "manual", "sue", VALUE_DAY, 1)
    assert valued_per_promise(jobs_app.settings) == dict.fromkeys(promises, 1)


def test_the_same_run_requested_twice_runs_once(jobs_app: Collections) -> None:
    given_promises(jobs_app, 5)
    due = "2026-12-15T06:00:00+01:00"
    first = request_run(jobs_app, "promise-valuation", business_date=VALUE_DAY,
                        trigger="scheduled", actor="scheduler", run_key=due)
    again = request_run(jobs_app, "promise-valuation", business_date=VALUE_DAY,
                        trigger="scheduled", actor="scheduler", run_key=due)
    assert first == again
    with working(jobs_app, threads=2) as worker:
        wait_for(jobs_app, first, FINISHED)
        worker.join()  # the second message too
    assert run_events(jobs_app, first) == ["Requested", "Started", "Finished"]
    assert jobs_app.repository.get(first).counts == {"valued": 5, "broken": 5}
    # requested once more after it finished: nothing recorded, nothing sent
    assert request_run(jobs_app, "promise-valuation", business_date=VALUE_DAY,
                       trigger="scheduled", actor="scheduler", run_key=due) == first
    assert run_events(jobs_app, first) == ["Requested", "Started", "Finished"]


def _failing(failures: int) -> Callable[..., dict[str, int]]:
    calls: list[date] = []

    def body(app: Collections, *, business_date: date, progress: object) -> dict[str, int]:
        calls.append(business_date)
        if len(calls) <= failures:
            raise OSError(f"disk unplugged ({len(calls)})")
        return {"attempts": len(calls)}

    return body


@pytest.mark.parametrize(("failures", "status", "attempts"), [(2, FINISHED, 3),
                                                              (9, FAILED, 3)])
def test_a_failing_run_is_retried_then_its_failure_is_final(
        jobs_app: Collections, monkeypatch: pytest.MonkeyPatch, failures: int, status: str,
        attempts: int) -> None:
    monkeypatch.setitem(registry.JOBS, "flaky", registry.Job("flaky", _failing(failures), ""))
    app = Collections(jobs_app.database, jobs_app.settings.with_changes(job_retries=2))
    try:
        run_id = request_run(app, "flaky", business_date=VALUE_DAY, actor="sue")
        with working(app, threads=1):
            run = wait_for(app, run_id, status)
        failed = [(e.attempt, e.final, e.error) for e in app.events.get(run_id)
                  if type(e).__name__ == "Failed"]
    finally:
        app.close()
    assert run.attempts == attempts
    if status == FINISHED:
        assert run.counts == {"attempts": 3}
        assert failed == [(1, False, "OSError: disk unplugged (1)"),
                          (2, False, "OSError: disk unplugged (2)")]
    else:
        assert failed == [(1, False, "OSError: disk unplugged (1)"),
                          (2, False, "OSError: disk unplugged (2)"),
                          (3, True, "OSError: disk unplugged (3)")]


def test_a_job_nobody_registered_is_refused(jobs_app: Collections) -> None:
    with pytest.raises(registry.UnknownJobError, match="there is no job 'polish-silver'"):
        request_run(jobs_app, "polish-silver", business_date=VALUE_DAY, actor="sue")
