"""Waiting for read models to show a write (following the log live is ``follower``'s part).

``wait_for`` is the API's read-your-writes: after a command committed notification id N, the
mutation answers once the models it reads have reached N (or fails clearly after a bound).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg

from ledger_collect.projections import select
from ledger_collect.projections.follower import follow  # noqa: F401 - where callers look
from ledger_collect.projections.runner import CHANNEL


class ProjectionTimeoutError(TimeoutError):
    """A read model did not reach a notification id in time (the projector is down or far
    behind): the write is stored, only its display is late."""


# -- read-your-writes -----------------------------------------------------------------------
async def positions(conn_or_pool: Any, names: Sequence[str]) -> dict[str, int]:
    """Where the named models stand (0 for a model never built)."""
    rows = await conn_or_pool.fetch(
        "SELECT name, position FROM projection_positions WHERE name = ANY($1::text[])",
        list(names))
    found = {row["name"]: int(row["position"]) for row in rows}
    return {name: found.get(name, 0) for name in names}


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
