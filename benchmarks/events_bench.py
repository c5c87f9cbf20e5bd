"""The domain's event path alone, in memory: µs to post an invoice and to apply a payment, with
the ``events`` speed-up (``speedups.events``) and with the library's own path.

No database: the aggregates are made and changed, not saved. Each figure is the best of
``--rounds`` rounds of ``--calls`` calls (the least disturbed by other work on the machine).

    python benchmarks/events_bench.py [--calls 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.speedups import events

TODAY = date(2026, 11, 23)
CUSTOMER = Customer.create_id("C000001")


def post(number: int) -> Invoice:
    return Invoice.post(customer_id=CUSTOMER, document_number=f"I{number:07d}",
                        amount=Decimal("100.00"), currency="EUR",
                        posting_date=TODAY - timedelta(days=60),
                        due_date=TODAY - timedelta(days=30), source_id=f"i{number}",
                        actor="erp", business_date=TODAY)


def best_of(rounds: int, calls: int, run: Callable[[int, Any], object],
            given: Callable[[int], Any] = lambda number: None) -> float:
    """The fastest round's µs per call of ``run(number, given(number))`` (``given`` untimed)."""
    best = float("inf")
    for _ in range(rounds):
        prepared = [given(number) for number in range(calls)]
        started = time.perf_counter()
        for number, thing in enumerate(prepared):
            run(number, thing)
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1e6


def pay(number: int, invoice: Invoice) -> bool:
    return invoice.apply_payment(f"p{number}", Decimal("10.00"), "EUR", actor="erp",
                                 business_date=TODAY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for fast in (True, False):
        events.switch(fast)
        posting = best_of(args.rounds, args.calls, lambda number, _: post(number))
        paying = best_of(args.rounds, args.calls, pay, post)  # a payment on a fresh invoice
        label = "fast path (speedups.events)" if fast else "library's path"
        print(f"{label}: post an invoice {posting:.1f} µs, apply a payment {paying:.1f} µs")
    events.switch(True)


if __name__ == "__main__":
    main()
