"""What the store holds, in a few numbers: the summary the demo prints after its import.

Computed straight from the aggregates (loaded in bulk), not from read models: the read models
come with the API. Aging is as of a date, by days past due, in the buckets the aging reports
use by default (``projections.aging``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ledger_collect.domain.base import ZERO
from ledger_collect.domain.credit import CustomerCredit
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.projections.aging import DEFAULT_BUCKETS, thresholds
from ledger_collect.storage.bulk_reads import ids_by_topic, load_aggregates

BUCKETS = tuple(bucket.label for bucket in DEFAULT_BUCKETS)
_LIMITS = thresholds(DEFAULT_BUCKETS)
CUSTOMER_TOPIC = "ledger_collect.Customer.Registered"
INVOICE_TOPIC = "ledger_collect.Invoice.Posted"
CREDIT_TOPIC = "ledger_collect.CustomerCredit.Received"


def bucket(days_past_due: int) -> str:
    """The aging bucket of an open item so many days past its due date."""
    return BUCKETS[bisect_right(_LIMITS, days_past_due)]


@dataclass
class Portfolio:
    as_of: date
    customers: int = 0
    head_offices: int = 0
    invoices: int = 0
    open_invoices: int = 0
    open_by_currency: dict[str, Decimal] = field(default_factory=dict)
    credit_by_currency: dict[str, Decimal] = field(default_factory=dict)
    #: (currency, bucket) -> open amount
    aging: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The summary as text lines, one currency per aging row."""
        branches = f"{self.head_offices} head offices with branches"
        out = [f"customers: {self.customers} ({branches})",
               f"invoices: {self.invoices} ({self.open_invoices} open)"]
        for currency in sorted(self.open_by_currency):
            credit = self.credit_by_currency.get(currency, ZERO)
            out.append(f"open amount {currency}: {self.open_by_currency[currency]:,.2f} "
                       f"(credits on account {credit:,.2f})")
        out.append(f"aging as of {self.as_of} ({', '.join(BUCKETS)} days past due):")
        for currency in sorted(self.open_by_currency):
            cells = [f"{self.aging.get((currency, b), Decimal('0.00')):,.2f}" for b in BUCKETS]
            out.append(f"  {currency}: " + " | ".join(cells))
        return out


def has_customers(app: Any) -> bool:
    return next(ids_by_topic(app, [CUSTOMER_TOPIC], limit=1), []) != []


def portfolio(app: Any, as_of: date) -> Portfolio:
    """Count customers and invoices, add up open amounts and credits, and age the open items."""
    summary = Portfolio(as_of)
    open_by: dict[str, Decimal] = defaultdict(Decimal)
    credits: dict[str, Decimal] = defaultdict(Decimal)
    aging: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    head_offices: set[Any] = set()
    for ids in ids_by_topic(app, [CUSTOMER_TOPIC, INVOICE_TOPIC, CREDIT_TOPIC]):
        for aggregate in load_aggregates(app, ids).values():
            if isinstance(aggregate, Customer):
                summary.customers += 1
                if aggregate.head_office_id is not None:
                    head_offices.add(aggregate.head_office_id)
            elif isinstance(aggregate, Invoice):
                summary.invoices += 1
                amount = aggregate.open_amount
                if aggregate.is_open and amount > 0:
                    summary.open_invoices += 1
                    open_by[aggregate.currency] += amount
                    days = (as_of - aggregate.due_date).days
                    aging[(aggregate.currency, bucket(days))] += amount
            elif isinstance(aggregate, CustomerCredit):
                credits[aggregate.currency] += aggregate.amount
    summary.head_offices = len(head_offices)
    summary.open_by_currency = dict(open_by)
    summary.credit_by_currency = dict(credits)
    summary.aging = dict(aging)
    return summary
