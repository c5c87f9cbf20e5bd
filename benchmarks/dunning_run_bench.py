"""The dunning run's issuing of letters: letters per second, nothing sending them meanwhile.

Sets up ``--letters`` customers, each with a contact person for dunning and two invoices 20
and 45 days overdue (one level-1 letter each), saved in bulk, and the standard procedure. The
read models are caught up before the clock starts, so what is timed is ``run_dunning`` as the
morning job runs it: the proposal read, then each letter checked against its records and
issued (its collection email and its record), and its id handed to the ``send-email`` job on
the configured broker (the default, PostgreSQL: a row per message). ``--profile`` prints the
cProfile of the timed run, sorted by cumulative time.

    python benchmarks/dunning_run_bench.py [--letters 1000] [--profile]
"""

from __future__ import annotations

import cProfile
import pstats
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from common import arguments, fresh_store

from ledger_collect.commands import dunning_commands as dc
from ledger_collect.commands.application import Collections
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.jobs.dunning_jobs import run_dunning
from ledger_collect.projections.engine import catch_up

DAY = date(2026, 3, 17)
STANDARD = {
    "code": "standard",
    "levels": [{"days_overdue": 1, "grace_days": 14},
               {"days_overdue": 30, "grace_days": 10, "fee": Decimal("5.00")},
               {"days_overdue": 45, "grace_days": 10, "fee": Decimal("15.00")}],
    "minimum_amount": Decimal("50.00"), "interest_rate": Decimal("8.00"), "reminder_days": 5,
    "quiet_days": 3}
SETUP: dict[str, Any] = {"actor": "erp", "business_date": DAY - timedelta(days=120)}


def given_customers(app: Collections, count: int) -> None:
    """``count`` customers with a dunning contact and two overdue invoices, saved in bulk."""
    app.run(dc.save_dunning_procedure, **STANDARD, actor="sue", business_date=DAY)
    app.run(dc.set_default_dunning_procedure, STANDARD["code"], actor="sue", business_date=DAY)
    pending = []
    for c in range(count):
        customer = Customer.register(
            number=f"DR{c:06d}", name=f"Customer {c}", segment="north",
            credit_limit=Decimal(10000), currency="EUR", risk_class="B", head_office_id=None,
            source_id=f"md-DR{c:06d}", **SETUP)
        customer.add_contact("p1", name="Paul", email=f"ap{c}@example.com", phone=None,
                             role="dunning", **SETUP)
        pending.append(customer)
        for k, overdue in enumerate((20, 45)):
            due = DAY - timedelta(days=overdue)
            pending.append(Invoice.post(
                customer_id=customer.id, document_number=f"DR{c:06d}-{k}",
                amount=Decimal("100.00") + c % 900, currency="EUR",
                posting_date=due - timedelta(days=30), due_date=due,
                source_id=f"inv-DR{c:06d}-{k}", **SETUP))
        if len(pending) >= 600:
            app.save_events([e for a in pending for e in a.collect_events()])
            pending = []
    app.save_events([e for a in pending for e in a.collect_events()])


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with fresh_store("bench_dunning_run", keep=args.keep) as database:
        app = Collections(database)
        try:
            started = time.perf_counter()
            given_customers(app, args.letters)
            catch_up(app)
            print(f"set up {args.letters:,} customers in {time.perf_counter() - started:.1f} s")
            profiler = cProfile.Profile() if args.profile else None
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            counts = run_dunning(app, business_date=DAY)
            if profiler is not None:
                profiler.disable()
            seconds = time.perf_counter() - started
        finally:
            app.close()
    print(f"run_dunning: {counts}")
    print(f"  {counts['issued']:,} letters in {seconds:.2f} s: "
          f"{counts['issued'] / seconds:,.1f} letters/s")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
