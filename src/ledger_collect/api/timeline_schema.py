"""The timeline (contact history) of a customer: everything that happened, newest first,
filterable by type, the last 365 days unless asked otherwise, in cursor pages.

``customer_timeline`` is what any resolver uses to serve a timeline (the ``timeline`` query
here, the customer overview's field): it reads through the request's ``timeline_by_customer``
loader, so the timelines of many customers in one request cost one SQL query per distinct set
of arguments. Each entry's personal part (a note, a conversation summary, a reason, email
addresses) is a ``PersonalText`` field: null with a FORBIDDEN error for viewers who may not see
personal data of that customer; the rest of the entry is theirs to read.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import strawberry
from graphql import GraphQLError

from ledger_collect.api.context import Info
from ledger_collect.api.pages import (
    After,
    BadUserInput,
    Connection,
    First,
    connection,
)
from ledger_collect.api.permissions import Action, Personal, personal_field, require
from ledger_collect.projections import timeline as model
from ledger_collect.projections.rows import DEFAULT_PAGE, ListArgumentError, Page


@strawberry.enum(description="Kinds of timeline entries (to filter on).")
class TimelineEntryType(enum.Enum):
    INVOICE = "invoice"
    PAYMENT = "payment"
    CREDIT_MEMO = "credit_memo"
    REVERSAL = "reversal"
    CLEARING = "clearing"
    WRITE_OFF = "write_off"
    REMINDER = "reminder"
    CONTACT = "contact"
    PROMISE = "promise"
    DISPUTE = "dispute"
    RESUBMISSION = "resubmission"
    NOTE = "note"
    EMAIL = "email"
    ACTIVITY = "activity"


assert {t.value for t in TimelineEntryType} == set(model.TYPES)

TYPES_DESCRIPTION = "Only entries of these kinds (all kinds when omitted)."
SINCE_DESCRIPTION = (f"Entries on or after this business date; {model.DEFAULT_DAYS} days before "
                     f"today when omitted (that day included).")
#: The timeline's arguments, for every field that serves one (the customer overview too).
Types = Annotated[list[TimelineEntryType] | None,
                  strawberry.argument(description=TYPES_DESCRIPTION)]
Since = Annotated[date | None, strawberry.argument(description=SINCE_DESCRIPTION)]


@strawberry.type(description="One thing that happened with a customer.")
class TimelineEntry:
    occurred: date = strawberry.field(description="The business date it refers to (for a "
                                                  "conversation: the day it took place).")
    recorded_at: datetime = strawberry.field(description="When it was recorded.")
    type: TimelineEntryType
    event: str = strawberry.field(description="What happened to it: posted, applied, issued, "
                                              "kept, broken, opened, resolved, moved, sent...")
    actor: str = strawberry.field(description="Who did it (a user id, erp, system...).")
    description: str = strawberry.field(description="What happened, with its amounts; no "
                                                    "personal data.")
    amount: Decimal | None
    currency: str | None
    details: Personal | None = personal_field(
        description="What a person wrote or is called: the note, the conversation summary, "
                    "the reason, the email addresses. Personal data.")
    object_id: UUID = strawberry.field(description="The record it happened to: the invoice, "
                                                   "promise, dispute, follow-up, email...")
    object_version: int = strawberry.field(description="The event's version in that record's "
                                                       "history (see disputeTrail).")

    @classmethod
    def of(cls, entry: model.TimelineEntry, segment: str) -> TimelineEntry:
        return cls(occurred=entry.occurred, recorded_at=entry.recorded_at,
                   type=TimelineEntryType(entry.type), event=entry.event, actor=entry.actor,
                   description=entry.description, amount=entry.amount,
                   currency=entry.currency,
                   details=None if entry.personal is None else Personal(entry.personal,
                                                                         segment),
                   object_id=entry.object_id, object_version=entry.object_version)


class CustomerNotFound(GraphQLError):
    def __init__(self, customer_id: UUID) -> None:
        super().__init__(f"customer {customer_id} does not exist",
                         extensions={"code": "NOT_FOUND"})


async def customer_timeline(info: Info, customer_id: UUID, *,
                            types: list[TimelineEntryType] | None = None,
                            since: date | None = None, first: int = DEFAULT_PAGE,
                            after: str | None = None) -> Connection[TimelineEntry]:
    """A page of the customer's timeline for the viewer (through the request's loader)."""
    require(info.context.user, Action.READ)
    try:
        window = model.TimelineWindow.of(
            since=since, first=first, after=after,
            types=None if types is None else [t.value for t in types],
            today=info.context.business_date)
    except ListArgumentError as error:
        raise BadUserInput(str(error)) from None
    page = await info.context.loaders.timeline_by_customer.load((customer_id, window))
    if page.segment is None:
        raise CustomerNotFound(customer_id)
    return connection(
        Page(items=page.entries, cursors=[e.cursor for e in page.entries],
             has_next_page=page.has_next, has_previous_page=after is not None),
        [TimelineEntry.of(entry, page.segment) for entry in page.entries])


@strawberry.type
class TimelineQuery:
    @strawberry.field(description="What happened with a customer, newest first: invoices, "
                                  "payments, credit memos, reminder letters, conversations, "
                                  "promises, disputes, follow-ups, notes, emails, tasks.")
    async def timeline(self, info: Info, customer_id: UUID, types: Types = None,
                       since: Since = None, first: First = DEFAULT_PAGE,
                       after: After = None) -> Connection[TimelineEntry]:
        return await customer_timeline(info, customer_id, types=types, since=since,
                                       first=first, after=after)
