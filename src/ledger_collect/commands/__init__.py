"""Command functions: ``(batch, *args) -> result``.

Each command decides every rule before it records anything, so a refused command leaves the
batch exactly as it found it. ``Collections.run`` executes one command on a fresh batch and
saves what it changed atomically; the ERP import runs many commands on one batch. Each command
module also offers a mixin of ``Collections`` methods, one per command, same verb.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from ledger_collect.commands.values import DEFAULT_LIMITS, Limits
from ledger_collect.domain.base import NotFoundError

R = TypeVar("R")
A = TypeVar("A", bound=Aggregate)


class Batch:
    """The aggregates loaded or created by one command (or one import batch), kept by id so
    that a rule spanning several aggregates sees one instance of each, and saved together.
    ``limits``: what the commands run on it accept (``commands.values``)."""

    def __init__(self, repository: Any, limits: Limits = DEFAULT_LIMITS) -> None:
        self._repository = repository
        self.limits = limits
        self.aggregates: dict[UUID, Aggregate] = {}

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate, or None when there is no such aggregate of that type."""
        found = self.aggregates.get(aggregate_id)
        if found is None:
            try:
                found = self._repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
            self.aggregates[aggregate_id] = found
        return found if isinstance(found, cls) else None

    def get(self, cls: type[A], aggregate_id: UUID, label: str | None = None,
            key: str | None = None) -> A:
        """The aggregate, or a NotFoundError a specialist can read: "<label> <key> does not
        exist", the key being the business key (a document number) when there is one."""
        found = self.find(cls, aggregate_id)
        if found is None:
            raise NotFoundError(
                f"{label or cls.__name__.lower()} {key or aggregate_id} does not exist")
        return found

    def add(self, aggregate: A) -> A:
        self.aggregates[aggregate.id] = aggregate
        return aggregate

    def preload(self, aggregates: Iterable[Aggregate]) -> None:
        """Put aggregates the caller already reconstructed (in bulk) into the batch."""
        for aggregate in aggregates:
            self.aggregates.setdefault(aggregate.id, aggregate)

    def changed(self) -> list[Aggregate]:
        return [a for a in self.aggregates.values() if a.pending_events]


def command(function: Callable[..., R]) -> Callable[..., R]:
    """Turn a command function into a Collections method that runs it in its own batch."""

    @functools.wraps(function)
    def method(self: Any, *args: Any, **kwargs: Any) -> R:
        return self.run(function, *args, **kwargs)

    return method
