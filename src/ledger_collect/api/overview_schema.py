"""`customerOverview(id)`: everything a specialist needs about one customer in one query —
master data, head office and branches, credit limit and available credit, open items, credit
memos and unapplied payments, the aging grid, promises, disputes, follow-ups, collection
contacts, conversations, activities, emails, notes (`customer.notes`) and the timeline.

Its lists are pages (connections, ``first`` / ``after``) cut from what the loader read; the
people to contact are a plain list (a handful per customer). Every part is read through the
request's loaders (``Context.loaders``), never directly. The parts a query asks for are read
first, all in one statement (``overview_parts``: the customer, head office, branches,
contacts, notes, open items, credits and casework lists), which fills the loaders the fields
then read from; each field says what it reads next to its description (``Reads``), and the
parts of a query follow from the fields it selects. The aging grid is worked out from the open
items read there, and a first page of the timeline is read there too. A timeline with types,
a date or a cursor, and dispute notes (which hang below a list), cost a query each. Whatever
the number of items and of overviews asked for (aliases), the overview costs a fixed number
of queries. Personal parts
(names, addresses, phone numbers, notes, summaries, reasons) are served by the shared casework
types and ``personal_field()``: a viewer who may not see this customer's personal data gets
null with a FORBIDDEN error at the exact path, and the rest of the overview.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Self
from uuid import UUID

import strawberry

from ledger_collect.api.casework_schema import (
    Activity,
    CollectionEmail,
    CustomerContact,
    Dispute,
    Promise,
    Resubmission,
)
from ledger_collect.api.contacts_schema import ContactPerson
from ledger_collect.api.context import Info, loaded
from ledger_collect.api.customers_schema import Customer, contact_person
from ledger_collect.api.overview_parts import (
    ACTIVITIES,
    BRANCHES,
    CONTACT_PERSONS,
    CONVERSATIONS,
    CREDITS,
    CUSTOMER,
    DISPUTES,
    EMAILS,
    HEAD_OFFICE,
    OPEN_ITEMS,
    PROMISES,
    RESUBMISSIONS,
    OverviewPart,
    Reads,
    ReadsBelow,
)
from ledger_collect.api.pages import After, Connection, First, sliced
from ledger_collect.api.permissions import Action, require
from ledger_collect.api.timeline_schema import (
    Since,
    TimelineEntry,
    Types,
    customer_timeline,
)
from ledger_collect.projections import open_items as model
from ledger_collect.projections.aging_report import AgingGrid, aged
from ledger_collect.projections.customers import CustomerRecord
from ledger_collect.projections.rows import DEFAULT_PAGE
from ledger_collect.projections.timeline import TimelineWindow
from ledger_collect.projections.worklist.amounts_to_collect import amounts_by_customer
from ledger_collect.projections.worklist.strategy_versions import active_strategies

ZERO = Decimal("0.00")


@strawberry.type(description="An invoice of the customer that is still (partly) open.")
class OpenItem:
    id: UUID
    document_number: str
    currency: str
    amount: Decimal
    paid_amount: Decimal
    credited_amount: Decimal
    open_amount: Decimal
    posting_date: date
    due_date: date
    days_overdue: int = strawberry.field(description="Days past due on the request's "
                                                     "business date (0 when not yet due).")
    dunning_level: int
    last_dunned_on: date | None
    promise_id: UUID | None = strawberry.field(description="The promise on the invoice, if "
                                                           "any (see `promises`).")
    promise_amount: Decimal | None
    promise_date: date | None
    promise_status: str | None
    dispute_ids: list[UUID] = strawberry.field(description="Dispute cases over the invoice "
                                                           "(see `disputes`).")
    open_disputes: int
    disputed_amount: Decimal

    @classmethod
    def of(cls, item: model.OpenItem, today: date) -> Self:
        shown = set(cls.__annotations__) - {"days_overdue"}
        return cls(**{name: value for name, value in vars(item).items() if name in shown},
                   days_overdue=item.days_overdue(today))


@strawberry.type(description="Money of the customer's not (yet) applied to an invoice: an "
                             "unapplied payment or a credit memo on account.")
class CreditOnAccount:
    id: UUID
    source_id: str = strawberry.field(description="The ERP's document id.")
    amount: Decimal
    currency: str
    document_date: date

    @classmethod
    def of(cls, credit: model.Credit) -> Self:
        return cls(id=credit.id, source_id=credit.source_id, amount=credit.amount,
                   currency=credit.currency, document_date=credit.document_date)


@strawberry.type(description="Open amount and number of open items in one aging bucket.")
class AgingCell:
    bucket: str = strawberry.field(description="The bucket's label: not due, 1-30, 31-60, ...")
    amount: Decimal
    items: int


@strawberry.type(description="The customer's open items of one currency by days past due.")
class AgingRow:
    currency: str
    cells: list[AgingCell]
    total: Decimal


@strawberry.type(description="Open items aged on a date.")
class CustomerAging:
    as_of: date
    buckets: list[str] = strawberry.field(description="Bucket labels, in order.")
    rows: list[AgingRow] = strawberry.field(description="One row per currency.")

    @classmethod
    def of(cls, grid: AgingGrid) -> Self:
        return cls(as_of=grid.as_of, buckets=list(grid.labels), rows=[
            AgingRow(currency=currency, total=grid.total(currency), cells=[
                AgingCell(bucket=label, amount=amount, items=count)
                for label, amount, count in zip(grid.labels, amounts, grid.items[currency],
                                                strict=True)])
            for currency, amounts in grid.amounts.items()])


def _casework(part: OverviewPart, node: Any, description: str) -> Any:
    """A page of one of the customer's casework lists, in the order its part reads them,
    whose personal parts the customer's segment guards."""
    def page(root: CustomerOverview, info: Info, first: First = DEFAULT_PAGE,
             after: After = None) -> Any:
        return loaded(part.loader(info.context.loaders), root.id, lambda found: sliced(
            info.field_name, found, first, after, lambda record: node.of(record, root.segment)))

    return strawberry.field(resolver=page, graphql_type=Connection[node],
                            description=description, extensions=[Reads(part)])


@strawberry.type(description="One customer at a glance: master data, credit, open items, "
                             "aging, casework and history. Costs a fixed number of SQL "
                             "queries whatever the number of items.")
class CustomerOverview:
    id: UUID
    customer: Customer
    credit_limit: Decimal = strawberry.field(description="In the customer's currency.")
    currency: str = strawberry.field(description="The customer's currency.")

    @classmethod
    def of(cls, record: CustomerRecord) -> Self:
        return cls(id=record.id, customer=Customer.of(record), credit_limit=record.credit_limit,
                   currency=record.currency)

    @property
    def segment(self) -> str:  # decides who sees the personal parts
        return self.customer.segment

    # The fields below answer at once from the parts the overview read ahead (``loaded``), and
    # await their loader only when asked for outside ``customerOverview``'s reading.
    def _open_amount(self, items: list[model.OpenItem]) -> Decimal:
        return sum((i.open_amount for i in items if i.currency == self.currency), ZERO)

    def _credits(self, info: Info, kind: str, first: int,
                 after: str | None) -> Connection[CreditOnAccount]:
        return loaded(info.context.loaders.credits_by_customer, self.id, lambda found: sliced(
            kind, [c for c in found if c.kind == kind], first, after, CreditOnAccount.of))

    @strawberry.field(description="The head office, when the customer is a branch.",
                      extensions=[Reads(HEAD_OFFICE)])
    def head_office(self, info: Info) -> Customer | None:
        if self.customer.head_office_id is None:
            return None
        return loaded(info.context.loaders.customers_by_id, self.customer.head_office_id,
                      lambda found: None if found is None else Customer.of(found))

    @strawberry.field(description="The branches, when the customer is a head office.",
                      extensions=[Reads(BRANCHES)])
    def branches(self, info: Info, first: First = DEFAULT_PAGE,
                 after: After = None) -> Connection[Customer]:
        return loaded(info.context.loaders.branches_by_customer, self.id,
                      lambda found: sliced("branches", found, first, after, Customer.of))

    @strawberry.field(description="Open amount of the open items in the customer's currency.",
                      extensions=[Reads(OPEN_ITEMS)])
    def open_amount(self, info: Info) -> Decimal:
        return loaded(info.context.loaders.open_items_by_customer, self.id, self._open_amount)

    @strawberry.field(description="Credit limit minus the open amount in the customer's "
                                  "currency (negative when over the limit).",
                      extensions=[Reads(OPEN_ITEMS)])
    def available_credit(self, info: Info) -> Decimal:
        return loaded(info.context.loaders.open_items_by_customer, self.id,
                      lambda items: self.credit_limit - self._open_amount(items))

    @strawberry.field(description="What is to be collected on the day: the overdue amount in "
                                  "the customer's currency less what is disputed, still "
                                  "promised, under a current dunning notice or followed up "
                                  "later; the figure its worklist entry shows. Two queries.",
                      extensions=[Reads(queries=2)])
    async def amount_to_collect(self, info: Info, as_of: Annotated[
            date | None, strawberry.argument(
                description="On this date; today when omitted.")] = None) -> Decimal:
        pool = info.context.pool
        found = await amounts_by_customer(pool, await active_strategies(pool), [self.id],
                                          as_of or info.context.business_date)
        return found[self.id].to_collect if self.id in found else ZERO

    @strawberry.field(description="Open invoices, earliest due first.",
                      extensions=[Reads(OPEN_ITEMS)])
    def open_items(self, info: Info, first: First = DEFAULT_PAGE,
                   after: After = None) -> Connection[OpenItem]:
        today = info.context.business_date
        return loaded(info.context.loaders.open_items_by_customer, self.id, lambda items: sliced(
            "openItems", items, first, after, lambda item: OpenItem.of(item, today)))

    @strawberry.field(description="Credit memos on account, oldest first.",
                      extensions=[Reads(CREDITS)])
    def credit_memos(self, info: Info, first: First = DEFAULT_PAGE,
                     after: After = None) -> Connection[CreditOnAccount]:
        return self._credits(info, "credit_memo", first, after)

    @strawberry.field(description="Payments not applied to any invoice, oldest first.",
                      extensions=[Reads(CREDITS)])
    def unapplied_payments(self, info: Info, first: First = DEFAULT_PAGE,
                           after: After = None) -> Connection[CreditOnAccount]:
        return self._credits(info, "unapplied_payment", first, after)

    @strawberry.field(description="The open items by days past due (default buckets).",
                      extensions=[Reads(OPEN_ITEMS)])
    def aging(self, info: Info, as_of: Annotated[date | None, strawberry.argument(
            description="Aged on this date; today when omitted.")] = None) -> CustomerAging:
        day = as_of or info.context.business_date
        return loaded(info.context.loaders.open_items_by_customer, self.id,
                      lambda items: CustomerAging.of(aged(items, day)))

    promises = _casework(PROMISES, Promise, "Promises to pay, newest first.")
    disputes = _casework(DISPUTES, Dispute, "Dispute cases.")
    resubmissions = _casework(RESUBMISSIONS, Resubmission, "Follow-ups (resubmissions).")
    activities = _casework(ACTIVITIES, Activity, "Activities (tasks) about the customer.")
    emails = _casework(EMAILS, CollectionEmail, "Collection emails (their latest attempts).")
    conversations = _casework(CONVERSATIONS, CustomerContact,
                              "Conversations with the customer (customer contacts).")

    @strawberry.field(description="The people to contact at the customer.",
                      extensions=[Reads(CONTACT_PERSONS)])
    def contacts(self, info: Info) -> list[ContactPerson]:
        return loaded(info.context.loaders.contact_persons_by_customer, self.id, lambda people: [
            contact_person(p, self.segment) for p in people if p.removed_on is None])

    @strawberry.field(description="What happened with the customer, newest first (the last "
                                  "365 days unless `since` says otherwise).",
                      extensions=[Reads(queries=1, timeline=True)])
    async def timeline(self, info: Info, types: Types = None, since: Since = None,
                       first: First = DEFAULT_PAGE,
                       after: After = None) -> Connection[TimelineEntry]:
        return await customer_timeline(info, self.id, types=types, since=since, first=first,
                                       after=after)


@strawberry.type
class OverviewQuery:
    @strawberry.field(description="One customer at a glance (null when there is none): one "
                                  "request, a fixed number of SQL queries.")
    async def customer_overview(self, info: Info, id: UUID) -> CustomerOverview | None:
        require(info.context.user, Action.READ)
        parts, first = READS.asked(info)
        window = None if first is None else TimelineWindow.of(
            first=first, today=info.context.business_date)
        await info.context.loaders.overview_parts.load((id, parts, window))
        found = await info.context.loaders.customers_by_id.load(id)
        if found is None:
            return None
        return CustomerOverview.of(found)


#: What the fields below the overview read, the customer always.
READS = ReadsBelow(CustomerOverview, CUSTOMER)
