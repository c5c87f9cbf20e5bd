"""Applying ERP feed records to the store: many records per batch, one transaction per batch.

Throughput: the library serialises writers with a table lock, so events per second grow with
the number of aggregates saved per transaction, not with threads. Each batch of records runs
on one ``ImportBatch`` whose aggregates were loaded in one query (``bulk_reads``): the records'
commands run on it as they run on the pipeline's batch, and its events are saved in one
transaction by the pipeline's ``save_events``, in a thread, while the next batch is decided:
the save mostly waits for the database.

Idempotence: aggregate ids derive from ERP keys (customer number, document number, source id)
and every fact carries its source document id, so a record already in the store changes
nothing. A batch is one transaction: after a crash (even SIGKILL) running the same file again
skips what was saved and applies the rest, and the store ends as after one clean run.

A refused record must not leave half its events in the batch. Commands decide before they
record, but that is checked, not assumed: if a failing record left events behind, the batch is
dropped and run again without it.
"""

from __future__ import annotations

import gc
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger_collect.domain.base import ConflictError, DomainError
from ledger_collect.feed.commands import apply_record, needed_ids
from ledger_collect.feed.import_batch import ImportBatch
from ledger_collect.feed.records import BadLine, Record
from ledger_collect.runtime.collector import tuned_collector

if TYPE_CHECKING:
    from ledger_collect.commands.application import Collections

DEFAULT_BATCH_SIZE = 500
#: Aggregates kept between batches (about a kilobyte each). A payment meets an invoice posted
#: up to months (100,000 records) earlier; each one that fell out is loaded again.
DEFAULT_CACHE_SIZE = 250_000
ACTOR = "erp"
APPLIED, PRESENT = "applied", "already present"


@dataclass
class ImportResult:
    """What an import did: the summary printed at the end."""

    read: int = 0
    applied: int = 0
    already_present: int = 0
    rejected: list[BadLine] = field(default_factory=list)
    events: int = 0
    seconds: float = 0.0
    saved: bool = True  # False when --strict refused the file
    single_loads: int = 0  # aggregates the bulk loading missed (should stay 0)
    reruns: int = 0  # batches run again because a failing record had left events behind

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class Importer:
    def __init__(self, app: Collections, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 actor: str = ACTOR, today: date | None = None, attempts: int = 3,
                 cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        if batch_size < 1:
            raise ValueError("the batch size must be at least 1")
        self.app = app
        self.batch_size = batch_size
        self.actor = actor
        self.today = today or date.today()
        self.attempts = attempts
        # Aggregates as saved by earlier batches: a payment usually meets an invoice posted a
        # few batches before. Only saved state goes in, or state being saved by the one batch
        # in flight (see ``_run_pipelined``); a batch takes its aggregates out while it works on
        # them, so a dropped batch cannot leave half-applied state behind. If another writer
        # changed one meanwhile, the save fails on its version, the cache is emptied and the
        # batch runs again on fresh state.
        self._cache: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._cache_size = cache_size
        self._result = ImportResult()

    @tuned_collector()  # which also unfreezes what the batches froze (below), on leaving
    def run(self, items: Iterable[Record | BadLine], *, strict: bool = False,
            progress: Callable[[int], None] | None = None) -> ImportResult:
        """Apply every record; ``progress`` is called with the number of items done after
        each batch. With ``strict``, the whole file is one transaction, saved only if no line
        was rejected."""
        result = self._result = ImportResult()
        started = time.perf_counter()
        if strict:
            self._run_strict(list(items), result, progress)
        else:
            self._run_pipelined(items, result, progress)
        result.rejected.sort(key=lambda bad: bad.line)
        result.seconds = time.perf_counter() - started
        return result

    # -- one transaction per batch ---------------------------------------------------------
    def _run_pipelined(self, items: Iterable[Record | BadLine], result: ImportResult,
                       progress: Callable[[int], None] | None) -> None:
        """Batch after batch, each saved in a thread while the next one is decided: a save
        spends most of its time waiting for the database (the table lock, the commit's write
        to disk), time the next batch's Python work can use. The next batch starts from the
        aggregates as the batch in flight left them; if that save fails (another writer got
        there first), both batches are dropped, the cache emptied and both run again, one at a
        time. Batches still commit in the file's order, one transaction each."""
        flight: _Flight | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="ledger-import-save") as saver:
            for chunk in _chunks(items, self.batch_size):
                result.read += len(chunk)
                records = _sort_out(chunk, result)
                decided = self._apply(records)
                if flight is not None and not flight.landed(result):
                    self._cache.clear()
                    self._run_records(flight.records, result)
                    self._run_records(records, result)
                    flight = None
                else:
                    flight = self._take_off(records, *decided, saver)
                # What the batches keep (hundreds of thousands of aggregates in the cache) is
                # set aside from the garbage collector's scans, which otherwise grow with it.
                gc.freeze()
                if progress:
                    progress(len(chunk))
            if flight is not None and not flight.landed(result):
                self._cache.clear()
                self._run_records(flight.records, result)

    def _take_off(self, records: list[Record], batches: list[ImportBatch],
                  outcomes: dict[int, str], rejected: list[BadLine],
                  saver: ThreadPoolExecutor) -> _Flight:
        """Take the batch's events from its aggregates, put the aggregates back in the cache
        for the next batch, and save the events in the saver's thread."""
        events = [e for a in self._changed(batches) for e in a.collect_events()]
        self._keep(batches)
        flight = _Flight(records, batches, outcomes, rejected, len(events))
        flight.saving = saver.submit(self.app.save_events, events)
        return flight

    def _run_records(self, records: list[Record], result: ImportResult, *,
                     strict: bool = False,
                     progress: Callable[[int], None] | None = None) -> None:
        """Decide and save the records, here and now (again, if another writer got there
        first). ``strict``: nothing is saved if a record is rejected."""
        for attempt in range(1, self.attempts + 1):
            batches, outcomes, rejected = self._apply(records, progress)
            if strict and (result.rejected or rejected):
                result.saved = False
                break
            try:
                result.events += self._commit(batches)
            except ConflictError:  # another writer got there first: reload and decide again
                self._cache.clear()
                if attempt == self.attempts:
                    raise
                continue
            break
        _tally(result, batches, outcomes, rejected)

    def _run_strict(self, items: list[Record | BadLine], result: ImportResult,
                    progress: Callable[[int], None] | None) -> None:
        result.read = len(items)
        self._run_records(_sort_out(items, result), result, strict=True, progress=progress)
        if not result.saved:
            result.applied = 0

    def _commit(self, batches: list[ImportBatch]) -> int:
        """Save every aggregate the batches changed in one transaction; the events written."""
        events = [e for a in self._changed(batches) for e in a.collect_events()]
        self.app.save_events(events)
        self._keep(batches)
        return len(events)

    @staticmethod
    def _changed(batches: list[ImportBatch]) -> list[Aggregate]:
        if len(batches) == 1:
            return batches[0].changed()
        # strict: the batches share aggregates; each saved once
        return list({a.id: a for b in batches for a in b.changed()}.values())

    def _keep(self, batches: list[ImportBatch]) -> None:
        """A batch took its aggregates out of the cache (or loaded or made them): put back at
        the young end. Strict batches share some: those are moved there."""
        cache = self._cache
        for batch in batches:
            cache.update(batch.aggregates)
            if len(batches) > 1:
                for aggregate_id in batch.aggregates:
                    cache.move_to_end(aggregate_id)
        while len(cache) > self._cache_size:
            cache.popitem(last=False)

    # -- deciding ----------------------------------------------------------------------------
    @staticmethod
    def apply_record(batch: ImportBatch, record: Record, *, actor: str, today: date) -> None:
        apply_record(batch, record, actor=actor, today=today)

    def _apply(self, records: list[Record],
               progress: Callable[[int], None] | None = None,
               ) -> tuple[list[ImportBatch], dict[int, str], list[BadLine]]:
        """Run the records on batches of ``batch_size`` (sharing the aggregates they made or
        changed). A failing record that left events behind spoils the batches: they are
        dropped and the records run again without it."""
        spoilers: dict[int, BadLine] = {}
        while True:
            pool: dict[UUID, Aggregate] = {}
            absent: set[UUID] = set()
            batches: list[ImportBatch] = []
            outcomes: dict[int, str] = {}
            rejected: list[BadLine] = []
            spoiled = False
            for start in range(0, len(records), self.batch_size):
                chunk = [r for r in records[start:start + self.batch_size]
                         if r.line not in spoilers]
                batch = self._prepare(chunk, pool, absent)
                batches.append(batch)
                for record in chunk:
                    batch.watch()
                    try:
                        self.apply_record(batch, record, actor=self.actor, today=self.today)
                    except DomainError as exc:
                        bad = BadLine(record.line, str(exc), record.source_id)
                        if batch.left_partial():
                            spoilers[record.line] = bad
                            spoiled = True
                            self._result.reruns += 1
                            break
                        rejected.append(bad)
                    else:
                        outcomes[record.line] = APPLIED if batch.added() else PRESENT
                if spoiled:
                    break
                if start + self.batch_size < len(records):  # a later batch may need them
                    pool.update(batch.aggregates)
                if progress:
                    progress(len(chunk))
            if not spoiled:
                return batches, outcomes, rejected + list(spoilers.values())

    def _prepare(self, records: list[Record], pool: dict[UUID, Aggregate],
                 absent: set[UUID]) -> ImportBatch:
        """A batch holding every aggregate the records will ask for, loaded in one query, and
        knowing which of them do not exist."""
        batch = self.app.batch(ImportBatch)
        batch.absent = absent
        needed = dict.fromkeys(i for record in records for i in needed_ids(record))
        aggregates, take, missing = batch.aggregates, self._cache.pop, []
        for i in needed:  # from this run's earlier batches, else the cache, else the store
            found = (pool.get(i) if pool else None) or take(i, None)
            if found is not None:
                aggregates[i] = found
            elif i not in absent:
                missing.append(i)
        loaded = self.app.load_aggregates(missing)
        batch.preload(loaded.values())
        absent.update(i for i in missing if i not in loaded)
        return batch


@dataclass
class _Flight:
    """A batch decided, its events being saved."""

    records: list[Record]
    batches: list[ImportBatch]
    outcomes: dict[int, str]
    rejected: list[BadLine]
    events: int
    saving: Future[int | None] | None = None

    def landed(self, result: ImportResult) -> bool:
        """Wait for the save; count the batch in the result. False if another writer got
        there first (nothing was saved)."""
        assert self.saving is not None
        try:
            self.saving.result()
        except ConflictError:
            return False
        result.events += self.events
        _tally(result, self.batches, self.outcomes, self.rejected)
        return True


def _chunks(items: Iterable[Record | BadLine], size: int) -> Iterator[list[Record | BadLine]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _sort_out(items: list[Record | BadLine], result: ImportResult) -> list[Record]:
    result.rejected.extend(item for item in items if isinstance(item, BadLine))
    return [item for item in items if isinstance(item, Record)]


def _tally(result: ImportResult, batches: list[ImportBatch], outcomes: dict[int, str],
           rejected: list[BadLine]) -> None:
    result.rejected.extend(rejected)
    result.applied += sum(1 for outcome in outcomes.values() if outcome == APPLIED)
    result.already_present += sum(1 for outcome in outcomes.values() if outcome == PRESENT)
    result.single_loads += sum(batch.single_loads for batch in batches)
