"""The scheduler: missed due times caught up exactly once (its clock moved by the test), runs
requested by APScheduler's cron triggers as they fall due, and one scheduler leading at a time
(a standby takes over when the leader is killed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from apscheduler.triggers.cron import CronTrigger
from job_helpers import (
    Process,
    broker_settings,
    closing_brokers,  # noqa: F401 - a fixture
    count_events,
    wait_until,
)

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.job_run import CATCH_UP, SCHEDULED, JobRun
from ledger_collect.jobs.registry import UnknownJobError
from ledger_collect.jobs.schedule import SCHEDULE, Due, check
from ledger_collect.jobs.scheduler import Scheduler
from ledger_collect.storage.database import Database

pytestmark = pytest.mark.usefixtures("closing_brokers")

VALUATION = Due("promise-valuation", "30 5 * * *", "morning")


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def jobs_app(settings: Settings, database: Database) -> Iterator[Collections]:
    app = Collections(database, broker_settings(settings, "postgres"))
    yield app
    app.close()


def test_every_line_of_the_schedule_names_a_registered_job_once() -> None:
    check(SCHEDULE)
    with pytest.raises(UnknownJobError, match="there is no job 'polish-silver'"):
        check((Due("polish-silver", "0 6 * * *", "morning"),))
    with pytest.raises(ValueError, match="promise-valuation is in the schedule twice"):
        check((VALUATION, Due("promise-valuation", "0 12 * * *", "noon")))
    with pytest.raises(ValueError):
        check((Due("promise-valuation", "61 5 * * *", "morning"),))


def requested(app: Collections) -> int:
    return count_events(app.settings, "JobRun.Requested")


def test_missed_due_times_are_caught_up_by_one_run_once(jobs_app: Collections) -> None:
    clock = Clock(datetime(2026, 12, 15, 7, 0, tzinfo=UTC))
    scheduler = Scheduler(jobs_app, schedule=(VALUATION,), clock=clock)
    assert scheduler.catch_up() == []  # never ran here: nothing to catch up, from now on
    clock.now = datetime(2026, 12, 16, 5, 29, tzinfo=UTC)
    assert scheduler.catch_up() == []  # zero missed: the next is a minute ahead
    clock.now = datetime(2026, 12, 18, 7, 0, tzinfo=UTC)  # 16th, 17th, 18th 05:30 missed
    (run_id,) = scheduler.catch_up()
    run = jobs_app.repository.get(run_id)
    assert (run.job, run.trigger, run.run_key, run.run_date, run.requested_by) == (
        "promise-valuation", CATCH_UP, "2026-12-18T05:30:00+00:00", date(2026, 12, 18),
        "scheduler")
    assert Scheduler(jobs_app, schedule=(VALUATION,), clock=clock).catch_up() == []  # restart
    assert requested(jobs_app) == 1

    clock.now = datetime(2026, 12, 19, 5, 30, tzinfo=UTC)  # on time: a scheduled run
    on_time = scheduler.handle(VALUATION)
    run = jobs_app.repository.get(on_time)
    assert (run.trigger, run.run_date) == (SCHEDULED, date(2026, 12, 19))
    assert scheduler.handle(VALUATION) is None  # fired twice: handled already
    assert requested(jobs_app) == 2


def test_a_scheduler_that_died_before_moving_its_mark_requests_the_same_run(
        jobs_app: Collections) -> None:
    clock = Clock(datetime(2026, 12, 15, 7, 0, tzinfo=UTC))
    scheduler = Scheduler(jobs_app, schedule=(VALUATION,), clock=clock)
    scheduler.catch_up()
    clock.now = datetime(2026, 12, 16, 5, 30, tzinfo=UTC)
    first = scheduler.handle(VALUATION)
    with psycopg.connect(str(jobs_app.settings.database_url), autocommit=True) as conn:
        conn.execute(f'UPDATE "{jobs_app.settings.schema}".job_schedule_marks'
                     " SET handled_due = '2026-12-15T07:00:00Z'")
    assert scheduler.handle(VALUATION) == first
    assert requested(jobs_app) == 1


def test_a_due_time_is_read_in_its_time_zone(jobs_app: Collections) -> None:
    """00:30 in Berlin is 23:30 UTC the day before: the run is for Berlin's day."""
    berlin = Due("promise-valuation", "30 0 * * *", "night", "Europe/Berlin")
    clock = Clock(datetime(2026, 12, 15, 12, 0, tzinfo=UTC))
    scheduler = Scheduler(jobs_app, schedule=(berlin,), clock=clock)
    scheduler.catch_up()
    clock.now = datetime(2026, 12, 15, 23, 30, tzinfo=UTC)
    run = jobs_app.repository.get(scheduler.handle(berlin))
    assert (run.run_date, run.run_key) == (date(2026, 12, 16), "2026-12-15T23:30:00+00:00")


@dataclass(frozen=True)
class EverySecond(Due):
    """A line due every second, for a test that cannot wait for a minute to turn."""

    def trigger(self, default_zone: str) -> CronTrigger:
        return CronTrigger(second="*", timezone=self.zone(default_zone))


def test_the_cron_trigger_requests_runs_as_they_fall_due(jobs_app: Collections) -> None:
    every = EverySecond("promise-valuation", "* * * * * *", "test")
    scheduler = Scheduler(jobs_app, schedule=(every,), standby_seconds=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: requested(jobs_app) >= 2, "two runs requested", seconds=20)
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    with psycopg.connect(str(jobs_app.settings.database_url), autocommit=True) as conn:
        ids = [row[0] for row in conn.execute(
            f'SELECT DISTINCT originator_id FROM "{jobs_app.settings.schema}".collections_events'
            " WHERE topic = 'ledger_collect.JobRun.Requested'")]
    runs = [jobs_app.repository.get(run_id) for run_id in ids]
    assert {run.trigger for run in runs} <= {SCHEDULED, CATCH_UP}
    assert len({run.run_key for run in runs}) == len(runs)  # one run per due time
    assert all(isinstance(run, JobRun) for run in runs)


@pytest.mark.slow
def test_a_standby_scheduler_takes_over_when_the_leader_is_killed(
        jobs_app: Collections, tmp_path: Path) -> None:
    leader = Process(jobs_app.settings, "scheduler", log=tmp_path / "leader.log")
    standby = None
    try:
        leader.wait_for_line("scheduler: leading")
        standby = Process(jobs_app.settings, "scheduler", log=tmp_path / "standby.log")
        standby.wait_for_line("scheduler: standing by")
        assert "scheduler: leading" not in standby.output()
        leader.kill()
        standby.wait_for_line("scheduler: leading", seconds=20)
    finally:
        leader.stop()
        if standby is not None:
            assert standby.stop() == 0, standby.output()
    assert "scheduler: no longer leading" in standby.output()
