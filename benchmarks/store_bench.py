"""The event store's batched write path alone, without the importer: events/s of ``save()``.

Customers and invoices with a few events each (registered, assigned; posted, two payments)
are built in memory, then saved 100 or 500 aggregates per ``save()`` into a fresh schema, by
``Collections``:

* with the write path's speed-ups off (``LEDGER_SPEEDUPS=-recorder,-transcoder,-mapper,-save``:
  the library's recorder, JSON transcoder, mapper and save);
* with each of those four off alone, to show what each brings;
* with all of them on (100 and 500 per save).

Where the library's recorder runs, 100 aggregates per save only: with 500 (~1,400 events,
~400 KB) its pipelined insert can hang for ever on the embedded server's Unix socket (a psycopg
pipeline deadlock, see ``speedups.recorder.BinaryInsert``). The other speed-ups (the events'
path) are as LEDGER_SPEEDUPS says. Only the ``save()`` calls are timed; building the aggregates
is printed apart.

    python benchmarks/store_bench.py [--customers 4000]
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

from common import arguments, fresh_store

from ledger_collect.commands.application import Collections
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.speedups import MAPPER, RECORDER, SAVE, TRANSCODER, Speedups

TODAY = date(2026, 11, 23)
INVOICES_PER_CUSTOMER = 3
WRITE_PATH = (RECORDER, TRANSCODER, MAPPER, SAVE)


def build(number: int) -> list[Customer | Invoice]:
    customer = Customer.register(number=f"C{number:06d}", name=f"Customer {number}",
                                 segment="SME-NORTH", credit_limit=Decimal(5000), currency="EUR",
                                 risk_class="B", head_office_id=None, source_id=f"c{number}",
                                 actor="erp", business_date=TODAY)
    customer.assign("alice", actor="supervisor", business_date=TODAY)
    built: list[Customer | Invoice] = [customer]
    for i in range(INVOICES_PER_CUSTOMER):
        invoice = Invoice.post(customer_id=customer.id, document_number=f"I{number:06d}-{i}",
                               amount=Decimal("100.00"), currency="EUR",
                               posting_date=TODAY - timedelta(days=60),
                               due_date=TODAY - timedelta(days=30), source_id=f"i{number}-{i}",
                               actor="erp", business_date=TODAY)
        for payment in ("p", "q"):
            invoice.apply_payment(f"{payment}{number}-{i}", Decimal("10.00"), "EUR", actor="erp",
                                  business_date=TODAY)
        built.append(invoice)
    return built


def measure(label: str, off: set[str], customers: int, aggregates_per_save: int) -> None:
    per_save = aggregates_per_save // (1 + INVOICES_PER_CUSTOMER)
    building = saving = 0.0
    events = 0
    with fresh_store("bench_store") as database:
        settings = database.settings
        app = Collections(database, settings.with_changes(
            speedups=Speedups(settings.speedups.off | off)))
        try:
            for start in range(0, customers, per_save):
                began = time.perf_counter()
                aggregates = [a for n in range(start, min(customers, start + per_save))
                              for a in build(n)]
                built = time.perf_counter()
                events += sum(len(a.pending_events) for a in aggregates)
                app.save(*aggregates)
                building += built - began
                saving += time.perf_counter() - built
        finally:
            app.close()
    print(f"{label}, {aggregates_per_save} aggregates per save:\n  {events:,} events; save() {1e6 * saving / events:.1f} µs/event = "
          f"{events / saving:,.0f} events/s (building them: {1e6 * building / events:.1f} "
          f"µs/event)")


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=4000)
    args = parser.parse_args()
    measure("the library's write path (-" + ",-".join(WRITE_PATH) + ")", set(WRITE_PATH),
            args.customers, 100)
    for name in WRITE_PATH:
        measure(f"all but one (-{name})", {name}, args.customers, 100)
    for per_save in (100, 500):
        measure("all (the write path's speed-ups on)", set(), args.customers, per_save)


if __name__ == "__main__":
    main()
