"""One command's latency: record a promise to pay, 1,000 times, each on its own open invoice.

Each command is what a mutation will run: load the invoice (and its customer's data key),
decide, create the PromiseToPay, link it on the invoice, and save both in one transaction
(the table lock, NOTIFY, commit). Measured end to end around the pipeline,
``Collections.run(record_promise, ...)``. Target: p99 <= 10 ms on this 2-core machine.

    python benchmarks/command_bench.py [--commands 1000] [--warmup 100]
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

from common import arguments, fresh_store, percentile

from ledger_collect.commands.application import Collections
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice

TODAY = date(2026, 11, 23)
INVOICES_PER_CUSTOMER = 10


def given_open_invoices(app: Collections, count: int) -> list[Invoice]:
    """``count`` overdue invoices of 100.00 EUR, ten per customer, saved in bulk."""
    customers = [
        Customer.register(number=f"CB{c:05d}", name=f"Customer {c}", segment="SME-NORTH",
                          credit_limit=Decimal(50000), currency="EUR", risk_class="C",
                          head_office_id=None, source_id=f"cust-CB{c:05d}", actor="erp",
                          business_date=TODAY)
        for c in range(-(-count // INVOICES_PER_CUSTOMER))
    ]
    invoices = [
        Invoice.post(customer_id=customers[i // INVOICES_PER_CUSTOMER].id,
                     document_number=f"IB{i:06d}", amount=Decimal("100.00"), currency="EUR",
                     posting_date=TODAY - timedelta(days=60), due_date=TODAY - timedelta(days=30),
                     source_id=f"inv-IB{i:06d}", actor="erp", business_date=TODAY)
        for i in range(count)
    ]
    for start in range(0, len(invoices), 500):
        app.save(*customers[start // INVOICES_PER_CUSTOMER:(start + 500) // INVOICES_PER_CUSTOMER],
                 *invoices[start:start + 500])
    return invoices


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    with fresh_store("bench_command", keep=args.keep) as database:
        app = Collections(database)
        try:
            invoices = given_open_invoices(app, args.warmup + args.commands)
            latencies: list[float] = []
            for n, invoice in enumerate(invoices):
                started = time.perf_counter()
                app.run(record_promise, invoice_id=invoice.id, amount=Decimal("60.00"),
                        promised_date=TODAY + timedelta(days=7), actor="alice",
                        business_date=TODAY)
                if n >= args.warmup:
                    latencies.append(time.perf_counter() - started)
            stored = app.recorder.max_notification_id()
        finally:
            app.close()
    latencies.sort()
    ms = [1000 * s for s in latencies]
    print(f"record a promise: {len(ms)} commands after {args.warmup} warm-up, "
          f"{stored} events in the store")
    print(f"  p50 {percentile(ms, 0.50):.2f} ms   p90 {percentile(ms, 0.90):.2f} ms   "
          f"p99 {percentile(ms, 0.99):.2f} ms   max {ms[-1]:.2f} ms   "
          f"mean {sum(ms) / len(ms):.2f} ms   (target: p99 <= 10 ms)")


if __name__ == "__main__":
    main()
