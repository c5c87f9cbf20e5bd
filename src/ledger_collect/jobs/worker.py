"""A dramatiq worker in this process: threads taking messages off the jobs' queues and running
their actors on the ``Collections`` handed over, until told to stop.

Stopping is dramatiq's own: the threads finish the message each holds, the messages prefetched
but not begun go back to their queues, and the broker is closed. An attempt cut short by a
harder end (SIGKILL, a lost machine) is delivered again by the broker (``broker``).

A database that goes away is said once, in one line, and again when it is back (a watch beside
the worker); meanwhile the worker carries on by itself: attempts fail and are retried with
their pause, and the queue in the database, if it is the broker, is tried again each second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dramatiq
import psycopg

from ledger_collect.jobs.actors import job_actors
from ledger_collect.jobs.broker import describe
from ledger_collect.storage.outage import first_line

if TYPE_CHECKING:
    from ledger_collect.commands.application import Collections

log = logging.getLogger(__name__)

#: How long a stopping worker waits for the attempts under way (dramatiq's unit: ms).
STOP_TIMEOUT_MS = 60_000


@contextmanager
def working(app: Collections, *, threads: int = 4, jobs: Iterable[str] = ()) -> Iterator[
        dramatiq.Worker]:
    """A worker running ``jobs``' actors (every job's when none are named) on ``app`` while
    inside; stopped on the way out."""
    actors = job_actors(app)
    actors.serve(app)
    queues = actors.queues(jobs)
    worker = dramatiq.Worker(actors.broker, queues=queues, worker_threads=threads)
    worker.start()
    log.info("worker %s: %d threads on %s, queues %s", actors.worker_id, threads,
             describe(app.settings), ", ".join(sorted(queues)))
    done = threading.Event()
    watch = threading.Thread(target=watch_database, args=(app, done), name="database-watch",
                             daemon=True)
    watch.start()
    try:
        yield worker
    finally:
        done.set()
        log.info("worker %s: stopping (attempts under way finish first)", actors.worker_id)
        worker.stop(timeout=STOP_TIMEOUT_MS)
        watch.join(timeout=app.settings.connect_timeout + 1)


def watch_database(app: Collections, done: threading.Event, every: float = 2.0) -> None:
    """Say when the database stops answering, and when it answers again."""
    if app.database is None:
        return
    lost = False
    while not done.wait(every):
        try:
            with app.database.connect() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as error:
            if not lost:
                log.error("worker: the database is unreachable (%s); jobs wait and are tried "
                          "again until it is back", first_line(error))
            lost = True
            continue
        if lost:
            log.info("worker: the database is back")
        lost = False


def run_worker(app: Collections, stop: threading.Event, *, threads: int = 4,
               jobs: Iterable[str] = ()) -> None:
    """Work until ``stop`` is set (the command's SIGTERM or Ctrl-C)."""
    with working(app, threads=threads, jobs=jobs):
        stop.wait()
