"""Following the log live, and waiting for read models to show a write.

``follow`` first catches up with SQL pages (fast, filtered on the models' topics), then takes
what the store's LISTEN/NOTIFY subscription delivers and applies it in pages too: whatever has
arrived when a page starts (up to ``page_size`` notifications) goes in one transaction per
model, together with the model's new position. The subscription is unfiltered on purpose:
every notification moves the positions, so ``wait_for`` can wait for any command's last
notification id, whichever events it wrote.

``wait_for`` is the API's read-your-writes: after a command committed notification id N, the
mutation answers once the models it reads have reached N (or fails clearly after a bound).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from ledger_collect.collector import tuned_collector
from ledger_collect.projections import Projection, select
from ledger_collect.projections.runner import (
    CHANNEL,
    PAGE_SIZE,
    EventLog,
    ProjectionStatus,
    StaleProjectionError,
    catch_up,
    describe,
    rebuild,
)

log = logging.getLogger(__name__)

_END = object()
#: How often the follower runs the models' upkeep (``Projection.upkeep``), e.g. the worklist's
#: ranking of a new business day: readers answer meanwhile, only slower.
UPKEEP_SECONDS = 5.0


class ProjectionTimeoutError(TimeoutError):
    """A read model did not reach a notification id in time (the projector is down or far
    behind): the write is stored, only its display is late."""


@tuned_collector()
def follow(app: Any, stop: threading.Event, names: Sequence[str] | str | None = None, *,
           page_size: int = PAGE_SIZE, rebuild_stale: bool = True,
           on_page: Callable[[dict[str, int]], None] | None = None) -> None:
    """Keep the named models (all by default) in step with the log until ``stop`` is set.

    A model whose SQL definition changed since it was built is rebuilt first
    (``rebuild_stale``); a model never built is created and caught up. ``on_page`` receives
    the positions after each live page (for logs and tests).
    """
    classes = select(names)
    positions: dict[str, int] = {}
    for cls in classes:
        try:
            positions.update(catch_up(app, cls.name, page_size=page_size))
        except StaleProjectionError:
            if not rebuild_stale:
                raise
            log.warning("read model %s changed definition: rebuilding it", cls.name)
            positions.update(rebuild(app, cls.name))  # in rebuild-sized pages
    events = EventLog(app)
    projections = [(cls, cls()) for cls in classes]
    handled = {topic for cls in classes for topic in cls.topics()}
    inbox: queue.Queue[Any] = queue.Queue(maxsize=4 * page_size)
    with events.connect() as conn, app.recorder.subscribe(gt=min(positions.values())) as sub:
        pump = threading.Thread(target=_pump, args=(sub, inbox, stop), daemon=True,
                                name="projection-subscription")
        pump.start()
        upkeep_due = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= upkeep_due:
                    _upkeep(conn, events, projections)
                    upkeep_due = time.monotonic() + UPKEEP_SECONDS
                page = _next_page(inbox, stop, page_size)
                if not page:
                    continue
                decoded = dict(zip(
                    (n.id for n in page if n.topic in handled),
                    events.decode([n for n in page if n.topic in handled]), strict=True))
                for cls, projection in projections:
                    reached = _apply_live(conn, events, cls, projection, page, decoded,
                                          positions[cls.name])
                    if reached is None:  # moved back underneath us: reread from the log
                        reached = catch_up(app, cls.name, page_size=page_size)[cls.name]
                    positions[cls.name] = reached
                if on_page is not None:
                    on_page(dict(positions))
        finally:
            sub.stop()
            pump.join(timeout=5)


def _upkeep(conn: Any, events: EventLog,
            projections: Sequence[tuple[type[Projection], Projection]]) -> None:
    """Each model's upkeep, in a transaction of its own under the model's lock. A failure is
    logged, not raised: upkeep only spares readers work, and the next round tries again."""
    for cls, projection in projections:
        if type(projection).upkeep is Projection.upkeep:
            continue
        try:
            with conn.transaction():
                events.lock(conn, cls)
                projection.upkeep(conn)
        except Exception:  # see above; a lost connection fails the next page
            log.exception("upkeep of read model %s failed", cls.name)


def _pump(subscription: Any, inbox: queue.Queue[Any], stop: threading.Event) -> None:
    """Move notifications from the subscription's iterator to a queue the follower can
    drain without blocking (one page = what has arrived)."""
    item: Any = _END
    try:
        for item in subscription:
            while not stop.is_set():
                try:
                    inbox.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
        item = _END
    except BaseException as exc:  # noqa: BLE001 - handed to the follower, which raises it
        item = exc
    while not stop.is_set():
        try:
            inbox.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def _next_page(inbox: queue.Queue[Any], stop: threading.Event, page_size: int) -> list[Any]:
    try:
        first = inbox.get(timeout=0.2)
    except queue.Empty:
        return []
    page = [first]
    while len(page) < page_size:
        try:
            page.append(inbox.get_nowait())
        except queue.Empty:
            break
    for item in page:
        if item is _END:
            if stop.is_set():
                return []
            raise RuntimeError("the store's notification subscription ended unexpectedly")
        if isinstance(item, BaseException):
            raise item
    return page


def _apply_live(conn: Any, events: EventLog, cls: type[Projection], projection: Projection,
                page: list[Any], decoded: dict[int, Any], expected: int) -> int | None:
    """Apply the page's notifications after the model's stored position, in one transaction
    with the new position. None when the stored position went back (the model was reset):
    the subscription cannot fill that gap, the log must."""
    topics = set(cls.topics())
    with conn.transaction():
        position = events.lock(conn, cls)
        if position < expected:
            return None
        fresh = [n for n in page if n.id > position]
        if not fresh:
            return position
        batch = [decoded[n.id] for n in fresh if n.topic in topics]
        if batch:
            projection.apply(conn, batch)
        events.save_position(conn, cls, fresh[-1].id)
        return int(fresh[-1].id)


# -- read-your-writes -----------------------------------------------------------------------
async def positions(conn_or_pool: Any, names: Sequence[str]) -> dict[str, int]:
    """Where the named models stand (0 for a model never built)."""
    rows = await conn_or_pool.fetch(
        "SELECT name, position FROM projection_positions WHERE name = ANY($1::text[])",
        list(names))
    found = {row["name"]: int(row["position"]) for row in rows}
    return {name: found.get(name, 0) for name in names}


async def projection_states(pool: Any, events_table: str) -> list[ProjectionStatus]:
    """Every model's status (``projections status``) read through asyncpg for the API, in one
    snapshot: positions, the log's head and each model's lag in two queries."""
    table = '"' + events_table.replace('"', '""') + '"'
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read",
                                                        readonly=True):
        stored = {row["name"]: (int(row["position"]), str(row["checksum"])) for row in
                  await conn.fetch("SELECT name, position, checksum FROM projection_positions")}
        models = select(None)
        starts = [stored[cls.name][0] if cls.name in stored else 0 for cls in models]
        rows = await conn.fetch(
            f"SELECT (SELECT coalesce(max(notification_id), 0) FROM {table}) AS head,"
            f" (SELECT count(*) FROM {table} WHERE notification_id > p.position) AS lag"
            " FROM unnest($1::bigint[]) WITH ORDINALITY AS p(position, n) ORDER BY p.n", starts)
    return [describe(cls, stored.get(cls.name), int(row["head"]), int(row["lag"]))
            for cls, row in zip(models, rows, strict=True)]


async def wait_for(conn_or_pool: Any, names: Sequence[str], notification_id: int | None,
                   timeout: float = 5.0) -> None:
    """Return once every named model has reached ``notification_id``; raise
    ``ProjectionTimeoutError`` naming the late ones after ``timeout`` seconds.

    Listens on the channel the projector notifies after each page commit (checked again at
    least every 100 ms in case a notification is missed). ``conn_or_pool``: an asyncpg pool or
    connection whose search_path is the app's schema.
    """
    if notification_id is None or not names:
        return
    select(names)  # unknown names fail now, not after the timeout
    if isinstance(conn_or_pool, asyncpg.Pool):
        async with conn_or_pool.acquire() as conn:
            await _wait(conn, names, notification_id, timeout)
    else:
        await _wait(conn_or_pool, names, notification_id, timeout)


async def _wait(conn: Any, names: Sequence[str], notification_id: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    reached = await positions(conn, names)
    if all(p >= notification_id for p in reached.values()):
        return
    woke = asyncio.Event()

    def wake(*_: Any) -> None:
        woke.set()

    await conn.add_listener(CHANNEL, wake)
    try:
        while True:
            woke.clear()
            reached = await positions(conn, names)
            late = {n: p for n, p in reached.items() if p < notification_id}
            if not late:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                behind = ", ".join(f"{n} at {p}" for n, p in sorted(late.items()))
                raise ProjectionTimeoutError(
                    f"the change (notification {notification_id}) is saved but not yet visible "
                    f"after {timeout:g} s: {behind}; is the projector running?")
            try:
                await asyncio.wait_for(woke.wait(), min(remaining, 0.1))
            except TimeoutError:
                pass
    finally:
        await conn.remove_listener(CHANNEL, wake)
