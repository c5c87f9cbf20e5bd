"""Where each read model stands: position, lag, state and, when it fails, why.

Three readers of the same rows: ``status`` (the ``projections status`` command, psycopg),
``projection_states`` (``projectionStatus``, asyncpg) and ``health`` (``/health``: one cheap
statement, the lag counted in notification ids rather than events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger_collect.projections import Projection, select
from ledger_collect.projections.eventlog import EventLog
from ledger_collect.projections.failures import Failure
from ledger_collect.projections.failures import read as read_failures

#: States in which the read side serves stale or missing rows: ``/health`` says "degraded".
DEGRADED = ("failing", "stale", "not built")


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int  # last notification id the model has taken into account
    head: int  # last notification id in the log
    lag: int  # events written after the position
    #: "current", "behind", "failing" (an event it cannot apply: see error), "stale"
    #: (definition changed: rebuild), "not built"
    state: str
    failure: Failure | None = None

    @property
    def error(self) -> str | None:
        return self.failure.error if self.failure else None

    @property
    def failed_at(self) -> datetime | None:
        return self.failure.failed_at if self.failure else None

    @property
    def failed_notification(self) -> int | None:
        return self.failure.notification_id if self.failure else None

    @property
    def attempts(self) -> int:
        return self.failure.attempts if self.failure else 0


def status(app: Any, names: Sequence[str] | str | None = None) -> list[ProjectionStatus]:
    log = EventLog(app)
    found: list[ProjectionStatus] = []
    with log.connect() as conn:
        head = log.head(conn)
        failing = read_failures(conn, log.schema)
        for cls in select(names):
            row = log.read_position(conn, cls)
            found.append(describe(cls, row, head, log.count(conn, row[0] if row else 0),
                                  failing.get(cls.name)))
    return found


def describe(cls: type[Projection], row: tuple[int, str] | None, head: int, lag: int,
             failure: Failure | None = None) -> ProjectionStatus:
    """A model's status from its stored (position, checksum) row, if any, the log's head, the
    number of events after its position and its failure, if any."""
    if row is None:
        return ProjectionStatus(cls.name, 0, head, lag, "failing" if failure else "not built",
                                failure)
    position, checksum = row
    state = ("stale" if checksum != cls.checksum() else "failing" if failure
             else "behind" if lag else "current")
    return ProjectionStatus(cls.name, position, head, lag, state, failure)


_FAILURES = ("SELECT name, notification_id, error, failed_at, attempts"
             " FROM projection_failures")


def _failures(rows: Any) -> dict[str, Failure]:
    return {row["name"]: Failure(row["notification_id"], row["error"], row["failed_at"],
                                 int(row["attempts"])) for row in rows}


async def projection_states(pool: Any, events_table: str) -> list[ProjectionStatus]:
    """Every model's status (``projections status``) read through asyncpg for the API, in one
    snapshot: positions, failures, the log's head and each model's lag in three queries."""
    table = _quoted(events_table)
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read",
                                                        readonly=True):
        stored = {row["name"]: (int(row["position"]), str(row["checksum"])) for row in
                  await conn.fetch("SELECT name, position, checksum FROM projection_positions")}
        failing = _failures(await conn.fetch(_FAILURES))
        models = select(None)
        starts = [stored[cls.name][0] if cls.name in stored else 0 for cls in models]
        rows = await conn.fetch(
            f"SELECT (SELECT coalesce(max(notification_id), 0) FROM {table}) AS head,"
            f" (SELECT count(*) FROM {table} WHERE notification_id > p.position) AS lag"
            " FROM unnest($1::bigint[]) WITH ORDINALITY AS p(position, n) ORDER BY p.n", starts)
    return [describe(cls, stored.get(cls.name), int(row["head"]), int(row["lag"]),
                     failing.get(cls.name))
            for cls, row in zip(models, rows, strict=True)]


async def health(conn: Any, events_table: str) -> dict[str, dict[str, Any]]:
    """Each model's state, position, lag (notification ids behind the log's head: no count of
    events, so the check stays cheap however far behind a model is) and error, in two
    statements."""
    rows = await conn.fetch(
        f"SELECT (SELECT coalesce(max(notification_id), 0) FROM {_quoted(events_table)})"
        " AS head, p.name, p.position, p.checksum"
        " FROM (SELECT 1) AS one LEFT JOIN projection_positions p ON true")
    head = int(rows[0]["head"]) if rows else 0
    stored = {row["name"]: row for row in rows if row["name"] is not None}
    failing = _failures(await conn.fetch(_FAILURES))
    report: dict[str, dict[str, Any]] = {}
    for cls in select(None):
        row = stored.get(cls.name)
        position = int(row["position"]) if row else 0
        found = describe(cls, (position, str(row["checksum"])) if row else None, head,
                         head - position, failing.get(cls.name))
        entry: dict[str, Any] = {"status": found.state, "position": found.position,
                                 "lag": found.lag}
        if found.failure is not None:
            entry.update(error=found.error, failedAt=found.failure.failed_at.isoformat(),
                         failedNotification=found.failed_notification,
                         attempts=found.attempts)
        report[cls.name] = entry
    return report


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
