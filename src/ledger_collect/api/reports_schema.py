"""The supervisor's reports: the portfolio's aging grid with its top and oldest balances, and
where each read model stands (projection status).

Nothing personal is served here: customers appear by number and company name, read models by
position. Every reader may see them (``Action.READ``).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import strawberry

from ledger_collect.api.casework_schema import customer_field
from ledger_collect.api.context import Info
from ledger_collect.api.customers_schema import Customer
from ledger_collect.api.overview_schema import AgingRow, CustomerAging
from ledger_collect.api.pages import BadUserInput
from ledger_collect.api.permissions import Action, require
from ledger_collect.projections import aging_report
from ledger_collect.projections.aging import DEFAULT_BUCKETS, Bucket, check_buckets
from ledger_collect.projections.status import projection_states

#: Balances listed by default, and at most (a supervisor's screen, not an export).
DEFAULT_TOP = 20
MAX_TOP = 100


@strawberry.input(description="One aging bucket: days past due from `firstDay` to `lastDay`, "
                               "both included. The first bucket has no `firstDay` (everything "
                               "not yet due falls in it), the last no `lastDay`.")
class AgingBucketInput:
    label: str
    first_day: int | None = None
    last_day: int | None = None


@strawberry.type(description="One customer's open balance in one currency.")
class CustomerBalance:
    customer_id: UUID
    customer: Customer | None = customer_field()
    currency: str
    open_amount: Decimal
    overdue_amount: Decimal = strawberry.field(description="Of the items past due on the day.")
    items: int = strawberry.field(description="Open items.")
    oldest_due_date: date
    days_overdue: int = strawberry.field(description="Of the oldest open item, on the day "
                                                     "(0 when none is due yet).")

    @classmethod
    def of(cls, balance: aging_report.Balance) -> CustomerBalance:
        return cls(customer_id=balance.customer_id, currency=balance.currency,
                   open_amount=balance.open_amount, overdue_amount=balance.overdue_amount,
                   items=balance.items, oldest_due_date=balance.oldest_due_date,
                   days_overdue=balance.days_overdue)


@strawberry.type(description="The open items of the portfolio (or of a segment, a currency) "
                             "aged on a date, with the balances a supervisor watches.")
class AgingReport:
    as_of: date
    segment: str | None
    currency: str | None
    buckets: list[str] = strawberry.field(description="Bucket labels, in order.")
    rows: list[AgingRow] = strawberry.field(description="One row per currency.")
    top_balances: list[CustomerBalance] = strawberry.field(
        description="Customers with the highest open balances, highest first (per currency).")
    oldest_balances: list[CustomerBalance] = strawberry.field(
        description="Customers whose oldest open item is the most overdue, oldest first.")


@strawberry.type(description="Where a read model stands against the event store.")
class ProjectionState:
    name: str
    position: int = strawberry.field(description="The last event (notification id) the model "
                                                 "has taken into account.")
    head: int = strawberry.field(description="The last event in the store.")
    lag: int = strawberry.field(description="Events recorded after the position.")
    state: str = strawberry.field(description="current, behind, failing (an event it cannot "
                                              "apply: see error; the other models go on), "
                                              "stale (its definition changed: rebuild it) or "
                                              "not built.")
    error: str | None = strawberry.field(
        default=None, description="Why a failing model stopped (its first line).")
    failed_notification: int | None = strawberry.field(
        default=None, description="The event (notification id) a failing model stopped at.")
    failed_at: datetime | None = strawberry.field(
        default=None, description="When it was last tried.")
    attempts: int = strawberry.field(
        default=0, description="How often it was tried at that event; the projector tries "
                               "again after a pause that doubles up to a minute.")


@strawberry.type
class ReportQuery:
    @strawberry.field(description="The aging report: open amounts by days past due, per "
                                  "currency, for the whole portfolio or a segment or currency, "
                                  "with the top and oldest balances. Three queries.")
    async def aging_report(
            self, info: Info,
            as_of: Annotated[date | None, strawberry.argument(
                description="Aged on this date; today when omitted.")] = None,
            segment: str | None = None, currency: str | None = None,
            buckets: Annotated[list[AgingBucketInput] | None, strawberry.argument(
                description="Own buckets; by default not due, 1-30, 31-60, 61-90, 91-120, "
                            "over 120 days past due.")] = None,
            top: Annotated[int, strawberry.argument(
                description=f"Balances per list, at most {MAX_TOP}.")] = DEFAULT_TOP,
    ) -> AgingReport:
        context = info.context
        require(context.user, Action.READ)
        if not 1 <= top <= MAX_TOP:
            raise BadUserInput(f"top must be between 1 and {MAX_TOP}, got {top}")
        try:
            checked = check_buckets(DEFAULT_BUCKETS if buckets is None else [
                Bucket(b.label, b.first_day, b.last_day) for b in buckets])
        except ValueError as error:
            raise BadUserInput(str(error)) from None
        day = as_of or context.business_date
        pool, where = context.pool, {"currency": currency, "segment": segment}
        grid, highest, oldest = await asyncio.gather(
            aging_report.aging(pool, day, buckets=checked, **where),
            aging_report.top_balances(pool, day, top, **where),
            aging_report.oldest_balances(pool, day, top, **where))
        aged = CustomerAging.of(grid)
        return AgingReport(as_of=day, segment=segment, currency=currency, buckets=aged.buckets,
                           rows=aged.rows,
                           top_balances=[CustomerBalance.of(b) for b in highest],
                           oldest_balances=[CustomerBalance.of(b) for b in oldest])

    @strawberry.field(description="Each read model's position and lag behind the event store.")
    async def projection_status(self, info: Info) -> list[ProjectionState]:
        require(info.context.user, Action.READ)
        return [ProjectionState(name=s.name, position=s.position, head=s.head, lag=s.lag,
                                state=s.state, error=s.error,
                                failed_notification=s.failed_notification,
                                failed_at=s.failed_at, attempts=s.attempts)
                for s in await projection_states(
                    info.context.pool, info.context.collections.recorder.events_table_name)]
