"""Where callers find the live side of the read models: ``follow`` (following the log live is
``follower``'s part) and the error of read-your-writes waiting (``waiting``'s part: after a
command committed notification id N, the mutation answers once the models it reads have
reached N, or goes out a little behind after a bound).
"""

from __future__ import annotations

from ledger_collect.projections.follower import follow  # noqa: F401 - where callers look


class ProjectionTimeoutError(TimeoutError):
    """A read model did not reach a notification id in time (the projector is down or far
    behind): the write is stored, only its display is late."""
