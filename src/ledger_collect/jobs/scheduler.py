"""The scheduler: APScheduler 3 cron triggers, one per line of the schedule, that only request
runs (``actors.request_run``); the workers do the work.

One scheduler at a time: any number may run (one beside each worker, say), but only the one
holding a PostgreSQL advisory lock leads; the others stand by and try the lock again every few
seconds. A leader that dies loses its connection and with it the lock, and a standby takes
over; a leader whose connection breaks steps down.

Due times are handled once: per job, ``job_schedule_marks`` keeps the latest due time whose run
was requested. On becoming leader (and at each firing) the due times after that mark and up to
now are looked at: none, nothing to do; several (nobody was leading when they passed), ONE run,
the catch-up, for the latest of them. A run's key is its due time, so a scheduler that fires
twice, or dies between requesting a run and moving the mark, requests the same run again.
A scheduler that never ran before starts its marks at the present: nothing to catch up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler
from eventsourcing.persistence import PersistenceError

from ledger_collect.domain.job_run import CATCH_UP, SCHEDULED
from ledger_collect.jobs.actors import request_run
from ledger_collect.jobs.schedule import SCHEDULE, Due, check
from ledger_collect.storage.outage import first_line

if TYPE_CHECKING:
    from uuid import UUID

    from ledger_collect.commands.application import Collections

log = logging.getLogger(__name__)

#: Who requests the scheduled runs.
SCHEDULER_ACTOR = "scheduler"
#: Due times looked at, at most, when catching up (a job due every minute, two months down).
MAX_MISSED = 100_000

_MARK = "SELECT handled_due FROM job_schedule_marks WHERE job = %s"
_MOVE = """
INSERT INTO job_schedule_marks (job, handled_due) VALUES (%s, %s)
ON CONFLICT (job) DO UPDATE SET handled_due = EXCLUDED.handled_due, handled_at = now()
WHERE job_schedule_marks.handled_due < EXCLUDED.handled_due
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """Requests the runs of ``schedule`` on ``app`` as they fall due, while it leads."""

    def __init__(self, app: Collections, *, schedule: tuple[Due, ...] = SCHEDULE,
                 clock: Callable[[], datetime] = utc_now, standby_seconds: float = 2.0) -> None:
        if app.database is None:
            raise ValueError("the scheduler needs the database (its lock and marks)")
        check(schedule)
        self.app = app
        self.schedule = schedule
        self.clock = clock
        self.standby_seconds = standby_seconds
        self.zone = app.settings.time_zone
        self.leading = threading.Event()

    # -- due times -----------------------------------------------------------------------------
    def handle(self, due: Due, trigger: str = SCHEDULED,
               slack: timedelta = timedelta(0)) -> UUID | None:
        """Request the run of ``due``'s latest due time not handled yet, if one has passed
        since its mark (a catch-up when more than one has, or when ``trigger`` says so); move
        the mark there. The run's id, or None when nothing was due. ``slack``: a due time
        this close ahead counts as passed (a timer may wake a hair before its time)."""
        now = self.clock() + slack
        assert self.app.database is not None
        with self.app.database.connect() as conn:
            row = conn.execute(_MARK, (due.job,)).fetchone()
            if row is None:  # never scheduled here before: from now on
                conn.execute(_MOVE, (due.job, now))
                return None
            missed, latest = 0, None
            following = due.next_due(row[0], self.zone)
            while following is not None and following <= now and missed < MAX_MISSED:
                missed, latest = missed + 1, following
                following = due.next_due(following, self.zone)
            if latest is None:
                return None
            kind = CATCH_UP if missed > 1 else trigger
            run_id = request_run(self.app, due.job, business_date=latest.astimezone(
                due.zone(self.zone)).date(), trigger=kind, actor=SCHEDULER_ACTOR,
                run_key=latest.astimezone(UTC).isoformat())
            conn.execute(_MOVE, (due.job, latest))
        log.info("%s: %s run %s requested for %s%s", due.job, kind, run_id, latest.isoformat(),
                 f" ({missed} due times passed unhandled)" if missed > 1 else "")
        return run_id

    def catch_up(self) -> list[UUID]:
        """What becoming leader does first: one run per job whose due times passed unhandled."""
        return [run for due in self.schedule if (run := self.handle(due, CATCH_UP)) is not None]

    def _fire(self, due: Due) -> None:
        try:
            self.handle(due, slack=timedelta(seconds=1))
        except (psycopg.Error, PersistenceError) as error:  # the next start catches it up
            log.error("%s: could not request its run: %s", due.job, first_line(error))

    # -- leading -------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Stand by until leading, lead until ``stop`` (or the lock's connection breaks: then
        stand by again)."""
        while not stop.is_set():
            try:
                self._stand_by_then_lead(stop)
            except (psycopg.Error, PersistenceError) as error:
                log.error("scheduler: the database failed: %s; trying again in %.0f s",
                          first_line(error), self.standby_seconds)
                self.leading.clear()
                stop.wait(self.standby_seconds)

    def _lock_key(self) -> str:
        return f"ledger-collect scheduler:{self.app.settings.schema}"

    def _stand_by_then_lead(self, stop: threading.Event) -> None:
        assert self.app.database is not None
        with self.app.database.connect() as conn:
            said = False
            while not conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                   (self._lock_key(),)).fetchone()[0]:
                if not said:
                    log.info("scheduler: standing by (another scheduler leads)")
                    said = True
                if stop.wait(self.standby_seconds):
                    return
            log.info("scheduler: leading")
            self.catch_up()
            self.leading.set()
            timer = BackgroundScheduler(timezone=self.zone)
            for due in self.schedule:
                timer.add_job(self._fire, due.trigger(self.zone), args=[due], id=due.job,
                              coalesce=True, misfire_grace_time=None, max_instances=1)
            timer.start()
            try:
                while not stop.wait(self.standby_seconds):
                    conn.execute("SELECT 1")  # still holding the lock's connection
            finally:
                self.leading.clear()
                timer.shutdown(wait=True)
                log.info("scheduler: no longer leading")


def next_due_times(settings_zone: str, now: datetime,
                   schedule: tuple[Due, ...] = SCHEDULE) -> list[tuple[Due, datetime | None]]:
    """Each line of the schedule with its next due time after ``now`` (``jobs list``)."""
    return [(due, due.next_due(now, settings_zone)) for due in schedule]
