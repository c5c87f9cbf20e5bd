"""The batch the ERP import runs its records on: a ``Batch`` that remembers which ids the
store does not hold and watches what each record does to it."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger_collect.commands import DEFAULT_SETTINGS, Batch, LoadMany
from ledger_collect.config import Settings

A = TypeVar("A", bound=Aggregate)


class ImportBatch(Batch):
    """A Batch that knows which ids the store does not hold (so asking again costs nothing),
    counts the aggregates it still had to load one by one, and watches what one record does:
    ``watch()`` before a record, then ``added()`` is the number of events the record recorded
    and ``left_partial()`` says whether it left events behind although it failed. (What a
    record touched is kept with its pending count, so ``added()`` looks nothing up.)"""

    def __init__(self, repository: Any, settings: Settings = DEFAULT_SETTINGS,
                 load_many: LoadMany | None = None) -> None:
        super().__init__(repository, settings, load_many)
        self.absent: set[UUID] = set()
        self.single_loads = 0
        # What the record touched, by object (an int key: a UUID hashes in Python): each
        # aggregate with its pending events before.
        self._touched: dict[int, list[Any]] = {}

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        known = self.aggregates.get(aggregate_id)
        if known is None:
            if aggregate_id in self.absent:
                return None
            self.single_loads += 1
            found = super().find(cls, aggregate_id)
            if aggregate_id not in self.aggregates:
                self.absent.add(aggregate_id)
                return None
        else:
            found = known if isinstance(known, cls) else None
        if found is not None and id(found) not in self._touched:
            self._touched[id(found)] = [found, len(found.pending_events)]
        return found

    def add(self, aggregate: A) -> A:
        replaced = self.aggregates.get(aggregate.id)
        if replaced is not None and replaced is not aggregate:  # its events are not saved
            self._touched.pop(id(replaced), None)
        self._touched.setdefault(id(aggregate), [aggregate, 0])
        self.absent.discard(aggregate.id)
        return super().add(aggregate)

    def watch(self) -> None:
        self._touched = {}

    def added(self) -> int:
        return sum(len(a.pending_events) - n for a, n in self._touched.values())

    def left_partial(self) -> bool:
        return self.added() > 0
