"""Applying ERP feed records to the store: many records per batch, one transaction per batch.

Throughput: the library serialises writers with a table lock, so events per second grow with
the number of aggregates saved per transaction, not with threads. Each batch of records runs
on one ``ImportBatch`` whose aggregates were loaded in one query (``store.load_aggregates``),
and is saved with one ``Collections.commit``.

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
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import islice
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger_collect.commands import Batch, receivables
from ledger_collect.domain.base import ConflictError, DomainError, NotFoundError
from ledger_collect.domain.credit import CustomerCredit
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.feed.records import (
    BadLine,
    ClearingRecord,
    ContactRecord,
    CreditMemoRecord,
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    PaymentReversalRecord,
    Record,
    WriteOffRecord,
)
from ledger_collect.feed.store import ImportBatch, load_aggregates

DEFAULT_BATCH_SIZE = 500
#: Aggregates kept between batches, ~1.1 KB each (measured): 250,000 is ~275 MB at most. A
#: payment meets an invoice posted up to months (100,000 records) earlier; each one that fell
#: out is loaded again (measured: importing with no cache runs at less than half the speed).
DEFAULT_CACHE_SIZE = 250_000
ACTOR = "erp"
APPLIED, PRESENT = "applied", "already present"


class InvoiceOfAnotherCustomerError(DomainError):
    code = "INVOICE_OF_ANOTHER_CUSTOMER"


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
    def __init__(self, app: object, *, batch_size: int = DEFAULT_BATCH_SIZE, actor: str = ACTOR,
                 today: date | None = None, attempts: int = 3,
                 cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        if batch_size < 1:
            raise ValueError("the batch size must be at least 1")
        self.app = app
        self.batch_size = batch_size
        self.actor = actor
        self.today = today or date.today()
        self.attempts = attempts
        # Aggregates as saved by earlier batches: a payment usually meets an invoice posted a
        # few batches before. Only saved state goes in; a batch takes its aggregates out while
        # it works on them, so a dropped batch cannot leave half-applied state behind. If
        # another writer changed one meanwhile, the save fails on its version, the cache is
        # emptied and the batch runs again on fresh state.
        self._cache: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._cache_size = cache_size
        self._result = ImportResult()

    def run(self, items: Iterable[Record | BadLine], *, strict: bool = False,
            progress: Callable[[int], None] | None = None) -> ImportResult:
        """Apply every record; ``progress`` is called with the number of items done after
        each batch. With ``strict``, the whole file is one transaction, saved only if no line
        was rejected."""
        result = self._result = ImportResult()
        started = time.perf_counter()
        try:
            if strict:
                self._run_strict(list(items), result, progress)
            else:
                for chunk in _chunks(items, self.batch_size):
                    self._run_batch(chunk, result)
                    # What the batches keep (hundreds of thousands of aggregates in the cache)
                    # is set aside from the garbage collector's scans, which otherwise grow
                    # with it: measured 13 % of an import of 120,000 records, rising.
                    gc.freeze()
                    if progress:
                        progress(len(chunk))
        finally:
            gc.unfreeze()
        result.rejected.sort(key=lambda bad: bad.line)
        result.seconds = time.perf_counter() - started
        return result

    # -- one transaction per batch ---------------------------------------------------------
    def _run_batch(self, chunk: list[Record | BadLine], result: ImportResult) -> None:
        result.read += len(chunk)
        records = _sort_out(chunk, result)
        for attempt in range(1, self.attempts + 1):
            batches, outcomes, rejected = self._apply(records)
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
        records = _sort_out(items, result)
        for attempt in range(1, self.attempts + 1):
            batches, outcomes, rejected = self._apply(records, progress)
            if result.rejected or rejected:
                result.saved = False
                break
            try:
                result.events += self._commit(batches)
            except ConflictError:
                self._cache.clear()
                if attempt == self.attempts:
                    raise
                continue
            break
        _tally(result, batches, outcomes, rejected)
        if not result.saved:
            result.applied = 0

    def _commit(self, batches: list[ImportBatch]) -> int:
        """Save every aggregate the batches changed in one transaction; the events written."""
        if len(batches) == 1:
            changed = batches[0].changed()
        else:  # strict: the batches share aggregates; each saved once
            changed = list({a.id: a for b in batches for a in b.changed()}.values())
        events = sum(len(a.pending_events) for a in changed)
        self.app.commit_aggregates(changed)  # type: ignore[attr-defined]
        # A batch took its aggregates out of the cache (or loaded or made them): put back at
        # the young end. Strict batches share some: those are moved there.
        cache = self._cache
        for batch in batches:
            cache.update(batch.aggregates)
            if len(batches) > 1:
                for aggregate_id in batch.aggregates:
                    cache.move_to_end(aggregate_id)
        while len(cache) > self._cache_size:
            cache.popitem(last=False)
        return events

    # -- deciding ----------------------------------------------------------------------------
    @staticmethod
    def apply_record(batch: Batch, record: Record, *, actor: str, today: date) -> None:
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
        batch = ImportBatch(self.app.repository)  # type: ignore[attr-defined]
        batch.absent = absent
        needed = dict.fromkeys(i for record in records for i in needed_ids(record))
        aggregates, take, missing = batch.aggregates, self._cache.pop, []
        for i in needed:  # from this run's earlier batches, else the cache, else the store
            found = (pool.get(i) if pool else None) or take(i, None)
            if found is not None:
                aggregates[i] = found
            elif i not in absent:
                missing.append(i)
        loaded = load_aggregates(self.app, missing)
        batch.preload(loaded.values())
        absent.update(i for i in missing if i not in loaded)
        return batch


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


# -- one record ----------------------------------------------------------------------------------
_customer_id = lru_cache(maxsize=1 << 16)(Customer.create_id)
_invoice_id = lru_cache(maxsize=1 << 16)(Invoice.create_id)


def needed_ids(record: Record) -> list[UUID]:
    """Every aggregate the record's command will look up (loaded in bulk beforehand)."""
    customer, invoice = _customer_id, _invoice_id
    if isinstance(record, CustomerRecord):
        return [customer(record.number)] + ([customer(record.head_office)]
                                            if record.head_office else [])
    if isinstance(record, ContactRecord):
        return [customer(record.customer)]
    if isinstance(record, InvoiceRecord):
        return [customer(record.customer), invoice(record.document_number)]
    if isinstance(record, CreditMemoRecord):
        return [customer(record.customer), invoice(record.invoice) if record.invoice
                else CustomerCredit.create_id(record.source_id)]
    if isinstance(record, PaymentRecord):
        ids = [customer(record.customer)] + [invoice(n) for n, _ in record.allocations]
        return ids + ([CustomerCredit.create_id(record.source_id)] if record.unapplied else [])
    assert isinstance(record, (PaymentReversalRecord, ClearingRecord, WriteOffRecord))
    return [invoice(record.invoice)]


def apply_record(batch: Batch, record: Record, *, actor: str, today: date) -> None:
    """Run the command that the record stands for on the batch (a DomainError refuses it)."""
    if isinstance(record, CustomerRecord):
        receivables.register_customer(
            batch, number=record.number, name=record.name, segment=record.segment,
            credit_limit=record.credit_limit, currency=record.currency,
            risk_class=record.risk_class, head_office_number=record.head_office,
            source_id=record.source_id, actor=actor, business_date=record.date or today)
    elif isinstance(record, ContactRecord):
        _add_contact(batch, record, actor=actor, today=today)
    elif isinstance(record, InvoiceRecord):
        receivables.post_invoice(
            batch, customer_number=record.customer, document_number=record.document_number,
            amount=record.amount, currency=record.currency, posting_date=record.posting_date,
            due_date=record.due_date, source_id=record.source_id, actor=actor,
            business_date=record.posting_date)
    elif isinstance(record, CreditMemoRecord):
        _check_payer(batch, record.customer, [record.invoice] if record.invoice else [])
        receivables.apply_credit_memo(
            batch, source_id=record.source_id, customer_number=record.customer,
            invoice_number=record.invoice, amount=record.amount, currency=record.currency,
            document_date=record.date, actor=actor, business_date=record.date)
    elif isinstance(record, PaymentRecord):
        _check_payer(batch, record.customer, [n for n, _ in record.allocations])
        receivables.apply_payment(
            batch, source_id=record.source_id, customer_number=record.customer,
            allocations=list(record.allocations), unapplied=record.unapplied or None,
            currency=record.currency, payment_date=record.date, actor=actor,
            business_date=record.date)
    elif isinstance(record, PaymentReversalRecord):
        receivables.reverse_payment(
            batch, source_id=record.source_id, invoice_number=record.invoice,
            payment_source_id=record.payment, actor=actor, business_date=record.date)
    elif isinstance(record, ClearingRecord):
        receivables.clear_invoice(batch, source_id=record.source_id,
                                  invoice_number=record.invoice, actor=actor,
                                  business_date=record.date)
    elif isinstance(record, WriteOffRecord):
        receivables.write_off_invoice(batch, source_id=record.source_id,
                                      invoice_number=record.invoice, reason=record.reason,
                                      actor=actor, business_date=record.date)
    else:  # pragma: no cover - parse_record makes only the kinds above
        raise TypeError(f"no command for {type(record).__name__}")


def _add_contact(batch: Batch, record: ContactRecord, *, actor: str, today: date) -> None:
    """Add the collection contact unless the customer has (or had) one with that id: contacts
    are then kept by the specialists, and an old feed run again must not undo their edits —
    neither bring back a removed contact."""
    customer = batch.get(Customer, Customer.create_id(record.customer), "customer",
                         record.customer)
    if record.contact_id in customer.contacts or record.contact_id in customer.removed_contact_ids:
        return
    receivables.add_contact(batch, customer.id, record.contact_id, name=record.name,
                            email=record.email, phone=record.phone, role=record.role,
                            actor=actor, business_date=record.date or today)


def _check_payer(batch: Batch, customer_number: str, invoice_numbers: list[str]) -> None:
    """A customer pays (or is credited for) its own invoices, or those of its branches."""
    payer = Customer.create_id(customer_number)
    for number in invoice_numbers:
        invoice = batch.find(Invoice, Invoice.create_id(number))
        if invoice is None:
            raise NotFoundError(f"invoice {number} does not exist")
        if invoice.customer_id == payer:
            continue
        owner = batch.find(Customer, invoice.customer_id)
        if owner is None or owner.head_office_id != payer:
            raise InvoiceOfAnotherCustomerError(
                f"invoice {number} belongs to customer {owner.number if owner else '?'}, "
                f"which is neither customer {customer_number} nor one of its branches")
