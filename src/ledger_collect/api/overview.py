"""`customerOverview(id)`: everything a specialist needs about one customer in one query —
master data, head office and branches, credit limit and available credit, open items, credit
memos and unapplied payments, the aging grid, promises, disputes, follow-ups, collection
contacts, conversations, activities, emails, notes (`customer.notes`) and the timeline.

Its lists are pages (connections, ``first`` / ``after``) cut from what the loader read; the
people to contact are a plain list (a handful per customer). Every part is read through the
request's loaders (``Context.loaders``), never directly. The parts a query asks for are read
first, all in one statement (``Loaders.overview_parts``: the customer, head office, branches,
contacts, notes, open items, credits and casework lists), which fills the loaders the fields
then read from; the aging grid is worked out from the open items read there, and a first page
of the timeline is read there too. A timeline with other arguments and dispute notes (which
hang below a list) cost a query each. Whatever the number of items and of overviews asked for
(aliases), the overview costs a fixed number of queries. Personal parts
(names, addresses, phone numbers, notes, summaries, reasons) are served by the shared casework
types and ``personal_field()``: a viewer who may not see this customer's personal data gets
null with a FORBIDDEN error at the exact path, and the rest of the overview.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Self
from uuid import UUID

import strawberry
from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, IntValueNode

from ledger_collect.api.casework import (
    Activity,
    CollectionEmail,
    CustomerContact,
    Dispute,
    Promise,
    Resubmission,
)
from ledger_collect.api.contacts import ContactPerson
from ledger_collect.api.context import Info, loaded
from ledger_collect.api.customers import Customer, contact_person
from ledger_collect.api.memos import HELD, ByIdentity
from ledger_collect.api.pages import After, Connection, First, sliced
from ledger_collect.api.permissions import Action, require
from ledger_collect.api.timeline import (
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

    # The fields below answer at once from the lists the overview primed (``loaded``), and
    # await their loader only when asked for outside ``customerOverview``'s reading.
    def _open_amount(self, items: list[model.OpenItem]) -> Decimal:
        return sum((i.open_amount for i in items if i.currency == self.currency), ZERO)

    def _credits(self, info: Info, kind: str, first: int,
                 after: str | None) -> Connection[CreditOnAccount]:
        return loaded(info.context.loaders.credits_by_customer, self.id, lambda found: sliced(
            kind, [c for c in found if c.kind == kind], first, after, CreditOnAccount.of))

    @strawberry.field(description="The head office, when the customer is a branch.")
    def head_office(self, info: Info) -> Customer | None:
        if self.customer.head_office_id is None:
            return None
        return loaded(info.context.loaders.customers_by_id, self.customer.head_office_id,
                      lambda found: None if found is None else Customer.of(found))

    @strawberry.field(description="The branches, when the customer is a head office.")
    def branches(self, info: Info, first: First = DEFAULT_PAGE,
                 after: After = None) -> Connection[Customer]:
        return loaded(info.context.loaders.branches_by_customer, self.id,
                      lambda found: sliced("branches", found, first, after, Customer.of))

    @strawberry.field(description="Open amount of the open items in the customer's currency.")
    def open_amount(self, info: Info) -> Decimal:
        return loaded(info.context.loaders.open_items_by_customer, self.id, self._open_amount)

    @strawberry.field(description="Credit limit minus the open amount in the customer's "
                                  "currency (negative when over the limit).")
    def available_credit(self, info: Info) -> Decimal:
        return loaded(info.context.loaders.open_items_by_customer, self.id,
                      lambda items: self.credit_limit - self._open_amount(items))

    @strawberry.field(description="What is to be collected on the day: the overdue amount in "
                                  "the customer's currency less what is disputed, still "
                                  "promised, under a current dunning notice or followed up "
                                  "later; the figure its worklist entry shows. Two queries.")
    async def amount_to_collect(self, info: Info, as_of: Annotated[
            date | None, strawberry.argument(
                description="On this date; today when omitted.")] = None) -> Decimal:
        pool = info.context.pool
        found = await amounts_by_customer(pool, await active_strategies(pool), [self.id],
                                          as_of or info.context.business_date)
        return found[self.id].to_collect if self.id in found else ZERO

    @strawberry.field(description="Open invoices, earliest due first.")
    def open_items(self, info: Info, first: First = DEFAULT_PAGE,
                   after: After = None) -> Connection[OpenItem]:
        today = info.context.business_date
        return loaded(info.context.loaders.open_items_by_customer, self.id, lambda items: sliced(
            "openItems", items, first, after, lambda item: OpenItem.of(item, today)))

    @strawberry.field(description="Credit memos on account, oldest first.")
    def credit_memos(self, info: Info, first: First = DEFAULT_PAGE,
                     after: After = None) -> Connection[CreditOnAccount]:
        return self._credits(info, "credit_memo", first, after)

    @strawberry.field(description="Payments not applied to any invoice, oldest first.")
    def unapplied_payments(self, info: Info, first: First = DEFAULT_PAGE,
                           after: After = None) -> Connection[CreditOnAccount]:
        return self._credits(info, "unapplied_payment", first, after)

    @strawberry.field(description="The open items by days past due (default buckets).")
    def aging(self, info: Info, as_of: Annotated[date | None, strawberry.argument(
            description="Aged on this date; today when omitted.")] = None) -> CustomerAging:
        day = as_of or info.context.business_date
        return loaded(info.context.loaders.open_items_by_customer, self.id,
                      lambda items: CustomerAging.of(aged(items, day)))

    @strawberry.field(description="Promises to pay, newest first.")
    def promises(self, info: Info, first: First = DEFAULT_PAGE,
                 after: After = None) -> Connection[Promise]:
        return loaded(info.context.loaders.promises_by_customer, self.id, lambda found: sliced(
            "promises", found, first, after, lambda p: Promise.of(p, self.segment)))

    @strawberry.field(description="Dispute cases.")
    def disputes(self, info: Info, first: First = DEFAULT_PAGE,
                 after: After = None) -> Connection[Dispute]:
        return loaded(info.context.loaders.disputes_by_customer, self.id, lambda found: sliced(
            "disputes", found, first, after, lambda d: Dispute.of(d, self.segment)))

    @strawberry.field(description="Follow-ups (resubmissions).")
    def resubmissions(self, info: Info, first: First = DEFAULT_PAGE,
                      after: After = None) -> Connection[Resubmission]:
        return loaded(info.context.loaders.resubmissions_by_customer, self.id, lambda found: sliced(
            "resubmissions", found, first, after, lambda r: Resubmission.of(r, self.segment)))

    @strawberry.field(description="Activities (tasks) about the customer.")
    def activities(self, info: Info, first: First = DEFAULT_PAGE,
                   after: After = None) -> Connection[Activity]:
        return loaded(info.context.loaders.activities_by_customer, self.id, lambda found: sliced(
            "activities", found, first, after, lambda a: Activity.of(a, self.segment)))

    @strawberry.field(description="Collection emails (their latest attempts).")
    def emails(self, info: Info, first: First = DEFAULT_PAGE,
               after: After = None) -> Connection[CollectionEmail]:
        return loaded(info.context.loaders.emails_by_customer, self.id, lambda found: sliced(
            "emails", found, first, after, lambda e: CollectionEmail.of(e, self.segment)))

    @strawberry.field(description="Conversations with the customer (customer contacts).")
    def conversations(self, info: Info, first: First = DEFAULT_PAGE,
                      after: After = None) -> Connection[CustomerContact]:
        return loaded(info.context.loaders.customer_contacts_by_customer, self.id, lambda found: sliced(
            "conversations", found, first, after, lambda c: CustomerContact.of(c, self.segment)))

    @strawberry.field(description="The people to contact at the customer.")
    def contacts(self, info: Info) -> list[ContactPerson]:
        return loaded(info.context.loaders.contact_persons_by_customer, self.id, lambda people: [
            contact_person(p, self.segment) for p in people if p.removed_on is None])

    @strawberry.field(description="What happened with the customer, newest first (the last "
                                  "365 days unless `since` says otherwise).")
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
        loaders = info.context.loaders
        parts, first = _asked_parts(info)
        window = None if first is None else TimelineWindow.of(
            first=first, today=info.context.business_date)
        await loaders.overview_parts.load((id, parts, window))
        found = await loaders.customers_by_id.load(id)
        if found is None:
            return None
        return CustomerOverview.of(found)


#: The parts of ``Loaders.overview_parts`` that serve each field (of the overview, or below it:
#: ``customer { notes contacts }``).
_PARTS: dict[str, tuple[str, ...]] = {
    "headOffice": ("head_offices",), "branches": ("branches_by_customer",),
    "openAmount": ("open_items_by_customer",), "availableCredit": ("open_items_by_customer",),
    "openItems": ("open_items_by_customer",), "aging": ("open_items_by_customer",),
    "creditMemos": ("credits_by_customer",),
    "unappliedPayments": ("credits_by_customer",), "promises": ("promises_by_customer",),
    "disputes": ("disputes_by_customer",), "resubmissions": ("resubmissions_by_customer",),
    "activities": ("activities_by_customer",), "emails": ("emails_by_customer",),
    "conversations": ("customer_contacts_by_customer",),
    "contacts": ("contact_persons_by_customer",), "notes": ("notes_by_customer",),
}


#: What each selection asks for, by its field nodes (``memos``: a client's query brings the same
#: nodes request after request).
_ASKED = HELD.add(ByIdentity(1024))


def _asked_parts(info: Info) -> tuple[frozenset[str], int | None]:
    """The parts this overview's selection reads, and the length of the timeline page read
    with them (None: none is, see ``_timeline_first``): worked out from the query's syntax
    tree once per selection (strawberry's ``info.selected_fields`` converts the whole tree on
    every call: 11 % of an overview's CPU)."""
    raw = info._raw_info
    nodes = raw.field_nodes

    def worked_out() -> tuple[frozenset[str], int | None]:
        parts = frozenset({"customers_by_id"}).union(
            *(_PARTS.get(name, ()) for name in _names_below(nodes, raw.fragments)))
        return parts, _timeline_first(nodes)

    if not HELD.admit(nodes[0]):
        return worked_out()
    return _ASKED.get(tuple(nodes), worked_out)  # type: ignore[no-any-return]


def _timeline_first(nodes: Iterable[FieldNode]) -> int | None:
    """The page length of a ``timeline`` asked for right below the overview with no argument
    but a literal ``first``: that first page, of every type, is read in the overview's one
    statement. Any other timeline (types, since, a cursor, variables) is read on its own."""
    for node in nodes:
        for selection in node.selection_set.selections if node.selection_set else ():
            if not isinstance(selection, FieldNode) or selection.name.value != "timeline":
                continue
            arguments = {a.name.value: a.value for a in selection.arguments or ()}
            first = arguments.pop("first", None)
            if arguments or not (first is None or isinstance(first, IntValueNode)):
                continue
            length = DEFAULT_PAGE if first is None else int(first.value)
            if length >= 1:
                return length
    return None


def _names_below(nodes: Iterable[Any], fragments: dict[str, FragmentDefinitionNode]
                 ) -> Iterator[str]:
    """The names of the fields selected below these nodes (through fragments), at any depth.
    Fragments cannot spread themselves: validation refuses cycles before execution."""
    for node in nodes:
        if node.selection_set is None:
            continue
        for selection in node.selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection.name.value
                yield from _names_below((selection,), fragments)
            elif isinstance(selection, FragmentSpreadNode):
                yield from _names_below((fragments[selection.name.value],), fragments)
            else:  # an inline fragment
                yield from _names_below((selection,), fragments)
