"""Command functions: ``(batch, *args, actor, business_date) -> result``.

Each command decides every rule before it records anything, so a refused command leaves the
batch exactly as it found it. ``Collections.run`` is the one pipeline that runs them: a fresh
batch, the command, one atomic save, and the ``Outcome`` (the result and the log position of
what was saved). A mutation, the CLI and a job all call it; the ERP import runs many commands on
one batch and saves it with the same pieces (``Collections.batch``, ``Collections.save_batch``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from ledger_collect.commands.values import Limits
from ledger_collect.config import Settings
from ledger_collect.domain.base import NotFoundError

R = TypeVar("R")
P = ParamSpec("P")
A = TypeVar("A", bound=Aggregate)

#: Loads the aggregates among some ids that exist, at once (one query on PostgreSQL).
LoadMany = Callable[[list[UUID]], Mapping[UUID, Aggregate]]
#: Checks, before a command runs on the batch, that it may run (raises to refuse).
Guard = Callable[["Batch"], None]

DEFAULT_SETTINGS = Settings()


class Batch:
    """The aggregates loaded or created by one command (or one import batch), kept by id so
    that a rule spanning several aggregates sees one instance of each, and saved together.
    ``settings``: what the commands run on it accept (``limits``) and assume by default."""

    def __init__(self, repository: Any, settings: Settings = DEFAULT_SETTINGS,
                 load_many: LoadMany | None = None) -> None:
        self._repository = repository
        self._load_many = load_many
        self.settings = settings
        self.limits = Limits.of(settings)
        self.aggregates: dict[UUID, Aggregate] = {}
        self._absent: set[UUID] = set()  # ids a bulk load found no aggregate for

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate, or None when there is no such aggregate of that type."""
        found = self.aggregates.get(aggregate_id)
        if found is None:
            if aggregate_id in self._absent:
                return None
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

    def load(self, ids: Iterable[UUID]) -> None:
        """Load the aggregates among ``ids`` that the batch does not hold yet, at once: for
        commands that go through many aggregates (a lookup each would be a query each). The
        ids found absent are remembered, so that looking one up (a saved template that may
        exist, a record that is about to be created) asks the store no more."""
        wanted = [i for i in dict.fromkeys(ids)
                  if i not in self.aggregates and i not in self._absent]
        if wanted and self._load_many is not None:
            found = self._load_many(wanted)
            self.preload(found.values())
            self._absent.update(i for i in wanted if i not in found)

    def preload(self, aggregates: Iterable[Aggregate]) -> None:
        """Put aggregates the caller already reconstructed (in bulk) into the batch."""
        for aggregate in aggregates:
            self.aggregates.setdefault(aggregate.id, aggregate)

    def changed(self) -> list[Aggregate]:
        return [a for a in self.aggregates.values() if a.pending_events]


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What running a command left behind: its result, the notification id of the last event
    it saved (what read models must reach to show the change; None when it changed nothing),
    and the aggregates of its batch as saved."""

    result: R
    position: int | None
    aggregates: Mapping[UUID, Aggregate]
    changed: frozenset[UUID]  # ids of the aggregates the command recorded events on

    def __getitem__(self, aggregate_id: UUID) -> Any:
        return self.aggregates[aggregate_id]


def guarded(guard: Guard,
            command: Callable[Concatenate[Batch, P], R]) -> Callable[Concatenate[Batch, P], R]:
    """The command, run only once ``guard`` accepted it on the same batch (what the guard
    loaded to decide is what the command sees)."""

    def run_guarded(batch: Batch, /, *args: P.args, **kwargs: P.kwargs) -> R:
        guard(batch)
        return command(batch, *args, **kwargs)

    return run_guarded
