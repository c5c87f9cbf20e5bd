"""A running job's progress, where others can see it: the ``progress(done, total)`` a job body
is given writes to ``job_progress`` (migrations/0010) at most every ``PROGRESS_SECONDS``, and
the first and the last figures always; ``jobRun.progress`` reads it back.

Not an event per tick: the log keeps facts, and a valuation of 100,000 promises reports a
figure per chunk of them. Not the read model either: a row a second from the body's thread
would wait behind the projector. The row is written on a connection of the attempt's own,
outside the body's transactions (a figure shows while the body's work is still uncommitted,
and a rolled-back chunk does not take it back: it says how far the attempt got, not what is
saved). Writing it is best effort: a failed write is logged and tried again with the next
figure, never a reason for the job to fail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg

from ledger_collect.storage.outage import first_line

if TYPE_CHECKING:
    from ledger_collect.commands.application import Collections

log = logging.getLogger(__name__)

#: The least time between two figures written (the first and the last are always written).
PROGRESS_SECONDS = 1.0

_WRITE = ("INSERT INTO job_progress (run_id, attempt, done, total, updated_at)"
          " VALUES (%s, %s, %s, %s, clock_timestamp()) ON CONFLICT (run_id) DO UPDATE SET"
          " attempt = EXCLUDED.attempt, done = EXCLUDED.done, total = EXCLUDED.total,"
          " updated_at = EXCLUDED.updated_at")


class ProgressRecorder:
    """One attempt's ``progress(done, total)``: told to ``also`` (a log, a progress bar) every
    time, written to ``job_progress`` now and then."""

    def __init__(self, app: Collections, run_id: UUID, attempt: int,
                 also: Callable[[int, int], None] | None = None, *,
                 every: float = PROGRESS_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.run_id, self.attempt = app, run_id, attempt
        self.also, self.every, self.clock = also, every, clock
        self.last: float | None = None
        self.pending: tuple[int, int] | None = None  # told, not written yet
        self.conn: psycopg.Connection[Any] | None = None
        self.writes = 0

    def __call__(self, done: int, total: int) -> None:
        if self.also is not None:
            self.also(done, total)
        self.pending = (done, total)
        now = self.clock()
        if self.last is None or done >= total or now - self.last >= self.every:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        """Write the latest figure told, if it is not written yet."""
        if self.pending is None or self.app.database is None:
            return
        done, total = self.pending
        self.last = self.clock() if now is None else now
        try:
            if self.conn is None or self.conn.closed:
                self.conn = self.app.database.connect()
            self.conn.execute(_WRITE, (self.run_id, self.attempt, max(done, 0), max(total, 0)))
        except psycopg.Error as error:
            log.warning("run %s: its progress could not be written: %s", self.run_id,
                        first_line(error))
            self.close()
            return
        self.pending = None
        self.writes += 1

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@contextmanager
def recording_progress(app: Collections, run_id: UUID, attempt: int,
                       also: Callable[[int, int], None] | None = None,
                       ) -> Iterator[ProgressRecorder]:
    """The attempt's progress callable; the last figure told is written on the way out."""
    recorder = ProgressRecorder(app, run_id, attempt, also)
    try:
        yield recorder
    finally:
        recorder.flush()
        recorder.close()


# -- reading (asyncpg; the pool's search_path is the app's schema) ---------------------------
@dataclass(frozen=True)
class RunProgress:
    attempt: int
    done: int
    total: int
    updated_at: datetime


async def progress_by_run(pool: Any, run_ids: Sequence[UUID]) -> dict[UUID, RunProgress]:
    """The latest figure of each run that wrote one."""
    if not run_ids:
        return {}
    rows = await pool.fetch("SELECT run_id, attempt, done, total, updated_at FROM job_progress"
                            " WHERE run_id = ANY($1::uuid[])", list(run_ids))
    return {row["run_id"]: RunProgress(row["attempt"], row["done"], row["total"],
                                       row["updated_at"]) for row in rows}
