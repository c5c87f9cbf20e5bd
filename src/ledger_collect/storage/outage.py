"""The database is unavailable: how to recognise it, and how long to try before saying so.

The eventsourcing library retries a failed statement ten times; a connection that cannot be had
waits the connect timeout each time, so a caller hung for ten of them before learning the store
was down. We give the connection a short window instead (``retrying``): time enough to replace
a connection the server dropped (a restart, a failover), then ``DatabaseUnavailableError``,
which the API answers as ``DATABASE_UNAVAILABLE`` and the commands as a one-line error. Other
operational errors (a lock timeout) keep the library's ten attempts.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

#: SQLSTATEs of a server going away or not yet there: connection exceptions, admin / crash
#: shutdown, starting up.
_GONE_STATES = ("08", "57P01", "57P02", "57P03")
_LIBRARY_ATTEMPTS = 10  # the library's own retry, for everything but a lost connection
_PAUSE = 0.2

F = TypeVar("F", bound=Callable[..., Any])


class DatabaseUnavailableError(OperationalError):
    """No connection to the database within the connect timeout (it is down, unreachable, or
    too busy to hand out one)."""


def unreachable(error: BaseException | None) -> bool:
    """Is ``error`` (or what it wraps) the database being out of reach, rather than a statement
    failing? Knows psycopg's, psycopg_pool's, asyncpg's and the socket's ways of saying it."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, (DatabaseUnavailableError, ConnectionError, TimeoutError,
                              FileNotFoundError)):
            return True
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_GONE_STATES):
            return True
        if isinstance(error, psycopg.OperationalError) and state is None:
            return True  # raised by the client (no connection, it broke, the pool's timeout)
        if type(error).__name__ in ("ConnectionDoesNotExistError", "InterfaceError") and \
                "closed" in str(error).lower():  # asyncpg: the connection went away under us
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def retrying(window: Callable[[Any], float]) -> Callable[[F], F]:
    """Retry a recorder method as the library does, but give up on a lost database once
    ``window(self)`` seconds have passed since the first attempt."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            attempts = 0
            while True:
                try:
                    return method(self, *args, **kwargs)
                except (InterfaceError, OperationalError) as error:
                    attempts += 1
                    if unreachable(error):
                        waited = time.monotonic() - started
                        if waited + _PAUSE >= window(self):
                            raise DatabaseUnavailableError(
                                f"the database did not answer within {waited:.0f} s: "
                                f"{first_line(error)}") from error
                    elif attempts >= _LIBRARY_ATTEMPTS:
                        raise
                    time.sleep(_PAUSE)

        return call  # type: ignore[return-value]

    return decorate


def first_line(error: BaseException) -> str:
    """The error's message in one line (PostgreSQL's own message: its hints follow on more)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
