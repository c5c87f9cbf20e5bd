"""Waiting for read models to show a write, without holding a read connection.

A mutation answers once the models its answer reads have reached its notification id (the
API's read-your-writes, bounded by ``read_wait_seconds``). Waiting must cost the request pools
nothing: with the projector stopped or slow, every waiting mutation would otherwise sit on a
pool connection for its whole wait, and queries and ``/health`` would queue behind them.

So one connection per process, of its own, LISTENs on the channel the projector notifies after
each page commit and keeps every model's position; waiters only look at what it holds. While
anyone waits it also reads the positions again now and then, for a notification that was missed
(a reconnect) or a position moved without one. Lost, it reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from ledger_collect.projections import select
from ledger_collect.projections.engine import CHANNEL
from ledger_collect.projections.live import ProjectionTimeoutError

log = logging.getLogger(__name__)

#: Seconds between two readings of the positions while someone waits, and before reconnecting.
POLL = 0.2
RECONNECT = 1.0


class ReadModelWatch:
    """Every read model's position in this process's schema, kept current by notifications."""

    def __init__(self, url: str, schema: str, *, connect_timeout: float = 5.0) -> None:
        self._url, self._schema, self._connect_timeout = url, schema, connect_timeout
        self._positions: dict[str, int] = {}
        self._moved = asyncio.Event()  # set, and replaced, whenever a position changes
        self._waiting = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_watching(), name="read-model-watch")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_for(self, names: Sequence[str], notification_id: int | None,
                       timeout: float) -> None:
        """Return once every named model has reached ``notification_id``; raise
        ``ProjectionTimeoutError`` naming the late ones after ``timeout`` seconds."""
        if notification_id is None or not names:
            return
        select(names)  # unknown names fail now, not after the timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiting += 1
        try:
            while True:
                late = {n: self._positions.get(n, 0) for n in names
                        if self._positions.get(n, 0) < notification_id}
                if not late:
                    return
                remaining = deadline - loop.time()
                if remaining <= 0:
                    behind = ", ".join(f"{n} at {p}" for n, p in sorted(late.items()))
                    raise ProjectionTimeoutError(
                        f"the change (notification {notification_id}) is saved but not yet "
                        f"visible after {timeout:g} s: {behind}; is the projector running?")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._moved.wait()
        finally:
            self._waiting -= 1

    # -- the connection -----------------------------------------------------------------------
    async def _keep_watching(self) -> None:
        while True:
            try:
                await self._watch()
            except Exception as error:  # noqa: BLE001 - the watch outlives any failure
                log.warning("read-model watch: %r; reconnecting", error)
            await asyncio.sleep(RECONNECT)

    async def _watch(self) -> None:
        conn = await asyncpg.connect(self._url, timeout=self._connect_timeout, server_settings={
            "search_path": self._schema, "application_name": "ledger-collect read-model watch"})
        try:
            await conn.add_listener(CHANNEL, self._notified)  # before reading: nothing missed
            self._seen(await _positions(conn))
            while not conn.is_closed():
                await asyncio.sleep(POLL)
                if self._waiting:
                    self._seen(await _positions(conn))
        finally:
            conn.terminate()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        where, _, position = payload.rpartition(":")  # "<schema>:<model>:<position>"
        schema, _, name = where.rpartition(":")
        if schema == self._schema and position.isdigit():
            self._seen({name: int(position)})

    def _seen(self, found: dict[str, int]) -> None:
        if any(self._positions.get(name) != position for name, position in found.items()):
            self._positions.update(found)
            self._moved.set()
            self._moved = asyncio.Event()


async def _positions(conn: asyncpg.Connection) -> dict[str, int]:
    try:
        rows = await conn.fetch("SELECT name, position FROM projection_positions")
    except asyncpg.UndefinedTableError:  # no model built yet
        return {}
    return {row["name"]: int(row["position"]) for row in rows}


@contextlib.asynccontextmanager
async def watching(url: str, schema: str, *,
                   connect_timeout: float = 5.0) -> AsyncIterator[ReadModelWatch]:
    watch = ReadModelWatch(url, schema, connect_timeout=connect_timeout)
    await watch.start()
    try:
        yield watch
    finally:
        await watch.close()
