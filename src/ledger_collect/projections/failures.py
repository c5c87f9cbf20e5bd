"""A read model that cannot go on: where it stopped and why, kept apart from the others.

A model fails alone. Its failing page is rolled back, so it keeps its position; the error, the
event it failed at and the number of attempts go to ``projection_failures``, which status,
``projectionStatus`` and ``/health`` show; the projector tries the model again after a pause
that doubles from ``Backoff.first`` to ``Backoff.longest``. The row is removed by the same
statement that moves the model's position past that event (``EventLog.save_position``).

A lost connection is not a model's failure: the database is away for every model, and the
projector waits for it (``connection_lost``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from ledger_collect.projections.eventlog import ProjectionError

log = logging.getLogger("ledger_collect.projections")

#: Characters of an error kept for status displays: the first line, cut.
ERROR_CHARS = 500


class ModelFailedError(ProjectionError):
    """A read model could not apply an event (its writer or the database refused it)."""

    def __init__(self, name: str, notification_id: int | None, cause: BaseException) -> None:
        self.name, self.notification_id, self.cause = name, notification_id, cause
        where = f" at notification {notification_id}" if notification_id is not None else ""
        super().__init__(f"read model {name} failed{where}: {describe_error(cause)}")


@dataclass(frozen=True)
class Failure:
    """A failing model as ``projection_failures`` holds it."""

    notification_id: int | None
    error: str
    failed_at: datetime
    attempts: int


def describe_error(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 1] + "…"


def connection_lost(conn: psycopg.Connection[Any] | None, error: BaseException) -> bool:
    """Whether ``error`` means the database went away rather than that a model failed."""
    if conn is not None and (conn.closed or conn.broken):
        return True
    return isinstance(error, psycopg.OperationalError) and conn is None


def record(conn: psycopg.Connection[Any], schema: str, failure: ModelFailedError) -> None:
    """Store (or count again) a model's failure, in a statement of its own."""
    log.error("%s; the other read models go on, this one is tried again later", failure)
    conn.execute(sql.SQL(
        "INSERT INTO {} AS f (name, notification_id, error) VALUES (%s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET error = EXCLUDED.error, failed_at = now(),"
        " notification_id = EXCLUDED.notification_id, attempts = f.attempts + 1,"
        " first_failed_at = CASE WHEN f.notification_id IS NOT DISTINCT FROM"
        " EXCLUDED.notification_id THEN f.first_failed_at ELSE now() END").format(
        sql.Identifier(schema, "projection_failures")),
        (failure.name, failure.notification_id, describe_error(failure.cause)))


def read(conn: psycopg.Connection[Any], schema: str) -> dict[str, Failure]:
    rows = conn.execute(sql.SQL(
        "SELECT name, notification_id, error, failed_at, attempts FROM {}").format(
        sql.Identifier(schema, "projection_failures"))).fetchall()
    return {str(r[0]): Failure(r[1], str(r[2]), r[3], int(r[4])) for r in rows}


@dataclass
class Backoff:
    """Pauses that double from ``first`` to ``longest`` seconds; ``reset`` after a success."""

    first: float = 1.0
    longest: float = 60.0
    _next: float = field(default=0.0, init=False)
    due: float = field(default=0.0, init=False)  # time.monotonic() of the next attempt

    def failed(self) -> float:
        """The pause before the next attempt (and when that is)."""
        pause = self._next = min(self.longest, self._next * 2) if self._next else self.first
        self.due = time.monotonic() + pause
        return pause

    def reset(self) -> None:
        self._next = 0.0
        self.due = 0.0

    @property
    def waiting(self) -> bool:
        return self._next > 0.0
