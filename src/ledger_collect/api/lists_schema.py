"""The casework lists: promises, disputes, follow-ups and activities across customers, with
filters, a sort order and cursor pages.

Each page costs two queries whatever its size: the page itself, and its customers (for the
segment that decides who sees personal data, and for ``customer`` fields asked for).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, TypeVar
from uuid import UUID

import strawberry

from ledger_collect.api.casework_schema import Activity, Dispute, Promise, Resubmission
from ledger_collect.api.context import Info
from ledger_collect.api.customers_schema import segments_of
from ledger_collect.api.pages import After, Connection, FirstOrNull, connection, read_page
from ledger_collect.api.permissions import Action, require
from ledger_collect.projections import casework, disputes
from ledger_collect.projections.casework import ListFilter

T = TypeVar("T")


@strawberry.input(description="What a casework list is narrowed to; every field is optional.")
class CaseworkFilter:
    customer_id: UUID | None = None
    specialist: str | None = strawberry.field(
        default=None, description="The specialist assigned to the customer (for activities: "
                                  "the one the task is for).")
    status: list[str] | None = strawberry.field(
        default=None, description="Any of these statuses.")
    date_from: date | None = strawberry.field(
        default=None, description="From this date on (inclusive): the promised date, the "
                                  "opening date, the follow-up date or the due date.")
    date_to: date | None = strawberry.field(default=None, description="Up to this date "
                                                                      "(inclusive).")

    def narrowing(self) -> ListFilter:
        return ListFilter(customer_id=self.customer_id, specialist=self.specialist,
                          statuses=self.status, date_from=self.date_from,
                          date_to=self.date_to)


@strawberry.enum(description="Orders of the promise list (then by id).")
class PromiseSort(enum.Enum):
    PROMISED_DATE = "promised_date"
    AMOUNT = "amount"
    ISSUED_ON = "issued_on"


@strawberry.enum(description="Orders of the dispute list (then by id).")
class DisputeSort(enum.Enum):
    OPENED_ON = "opened_on"
    STILL_DISPUTED = "still_disputed"
    ORIGINAL_AMOUNT = "original_amount"


@strawberry.enum(description="Orders of the follow-up list (then by id).")
class ResubmissionSort(enum.Enum):
    FOLLOW_UP_DATE = "follow_up_date"
    ENTERED_ON = "entered_on"


@strawberry.enum(description="Orders of the activity list (then by id).")
class ActivitySort(enum.Enum):
    DUE_DATE = "due_date"
    CREATED_ON = "created_on"


Descending = Annotated[bool, strawberry.argument(description="Latest / largest first.")]


async def _listed(info: Info, read: Callable[..., Awaitable[Any]],
                  make: Callable[[Any, str], T], filter: CaseworkFilter | None, sort: enum.Enum,
                  descending: bool, first: int | None, after: str | None,
                  **extra: Any) -> Connection[T]:
    require(info.context.user, Action.READ)
    narrowing = (filter or CaseworkFilter()).narrowing()
    page = await read_page(read, info.context.pool, narrowing, sort=sort.value,
                           descending=descending, first=first, after=after, **extra)
    segments = await segments_of(info, (item.customer_id for item in page.items))
    return connection(page, [make(item, segments[item.customer_id]) for item in page.items])


@strawberry.type
class ListQuery:
    @strawberry.field(description="Promises to pay across customers.")
    async def promises(self, info: Info, filter: CaseworkFilter | None = None,
                       sort: PromiseSort = PromiseSort.PROMISED_DATE,
                       descending: Descending = False, first: FirstOrNull = None,
                       after: After = None) -> Connection[Promise]:
        return await _listed(info, casework.list_promises, Promise.of, filter, sort,
                             descending, first, after)

    @strawberry.field(description="Dispute cases across customers.")
    async def disputes(self, info: Info, filter: CaseworkFilter | None = None,
                       processor: Annotated[str | None, strawberry.argument(
                           description="Who works the case.")] = None,
                       sort: DisputeSort = DisputeSort.OPENED_ON,
                       descending: Descending = False, first: FirstOrNull = None,
                       after: After = None) -> Connection[Dispute]:
        return await _listed(info, disputes.list_disputes, Dispute.of, filter, sort,
                             descending, first, after, processor=processor)

    @strawberry.field(description="Follow-ups (resubmissions) across customers.")
    async def resubmissions(self, info: Info, filter: CaseworkFilter | None = None,
                            sort: ResubmissionSort = ResubmissionSort.FOLLOW_UP_DATE,
                            descending: Descending = False, first: FirstOrNull = None,
                            after: After = None) -> Connection[Resubmission]:
        return await _listed(info, casework.list_resubmissions, Resubmission.of, filter, sort,
                             descending, first, after)

    @strawberry.field(description="Activities (tasks) across customers and specialists.")
    async def activities(self, info: Info, filter: CaseworkFilter | None = None,
                         sort: ActivitySort = ActivitySort.DUE_DATE,
                         descending: Descending = False, first: FirstOrNull = None,
                         after: After = None) -> Connection[Activity]:
        return await _listed(info, casework.list_activities, Activity.of, filter, sort,
                             descending, first, after)


