"""A dramatiq worker in this process: threads taking messages off the jobs' queues and running
their actors on the ``Collections`` handed over, until told to stop.

Stopping is dramatiq's own: the threads finish the message each holds, the messages prefetched
but not begun go back to their queues, and the broker is closed. An attempt cut short by a
harder end (SIGKILL, a lost machine) is delivered again by the broker (``broker``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dramatiq

from ledger_collect.jobs.actors import job_actors
from ledger_collect.jobs.broker import describe

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
    try:
        yield worker
    finally:
        log.info("worker %s: stopping (attempts under way finish first)", actors.worker_id)
        worker.stop(timeout=STOP_TIMEOUT_MS)


def run_worker(app: Collections, stop: threading.Event, *, threads: int = 4,
               jobs: Iterable[str] = ()) -> None:
    """Work until ``stop`` is set (the command's SIGTERM or Ctrl-C)."""
    with working(app, threads=threads, jobs=jobs):
        stop.wait()
