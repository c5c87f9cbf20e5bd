"""The dunning proposal of a business date, as a supervisor reviews it before the run: which
customer gets which letter, at which level, for which items, with what fee and interest.

Computed on each request from the read models (``projections.dunning_proposal``), in a worker
thread; letters are ordered by customer number, paged by a cursor on that order. Nothing
personal is served: customers by number, whether a dunning address exists, not the address.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from decimal import Decimal
from typing import Self
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from ledger_collect.api.context import Info
from ledger_collect.api.pages import BadUserInput
from ledger_collect.api.permissions import Action, require
from ledger_collect.projections.dunning_proposal import Proposal, ProposedLetter, propose

DEFAULT_PAGE, MAX_PAGE = 50, 500


@strawberry.type
class ProposedItem:
    invoice_id: UUID
    document_number: str
    due_date: date
    open_amount: Decimal
    days_overdue: int
    level: int = strawberry.field(description="The level the letter takes it to (0: a "
                                              "pre-due reminder, which raises nothing).")
    interest: Decimal


@strawberry.type
class ProposedDunningLetter:
    letter_id: UUID
    customer_id: UUID
    customer_number: str
    procedure: str
    kind: str = strawberry.field(description="reminder or dunning.")
    level: int = strawberry.field(description="The highest of its items' levels.")
    currency: str
    amount: Decimal = strawberry.field(description="Its items' open amount.")
    fee: Decimal
    interest: Decimal
    total: Decimal
    has_address: bool = strawberry.field(description="False: the customer's contact person "
                                                     "for dunning has no email address; the "
                                                     "run will not send it.")
    items: list[ProposedItem]
    cursor: str

    @classmethod
    def of(cls, proposed: ProposedLetter) -> Self:
        letter = proposed.letter
        return cls(letter_id=letter.letter_id, customer_id=letter.customer_id,
                   customer_number=proposed.customer_number, procedure=letter.procedure,
                   kind=letter.kind, level=letter.level, currency=letter.currency,
                   amount=letter.amount, fee=letter.fee, interest=letter.interest,
                   total=letter.total, has_address=proposed.has_address,
                   items=[ProposedItem(invoice_id=line.invoice_id,
                                       document_number=line.document_number,
                                       due_date=line.due_date, open_amount=line.open_amount,
                                       days_overdue=line.days_overdue, level=line.level,
                                       interest=line.interest) for line in letter.lines],
                   cursor=_cursor(proposed))


@strawberry.type(description="What a dunning run on that day would send.")
class DunningProposal:
    business_date: date
    segment: str | None
    customers: int = strawberry.field(description="Customers with items that may be dunned.")
    quiet: int = strawberry.field(description="Customers held back by their quiet days.")
    no_procedure: int = strawberry.field(description="Customers no procedure applies to.")
    no_address: int = strawberry.field(description="Letters without an address.")
    total_letters: int
    letters: list[ProposedDunningLetter] = strawberry.field(description="This page of them.")
    has_next_page: bool


def _cursor(proposed: ProposedLetter) -> str:
    text = f"{proposed.customer_number}\n{proposed.letter.key}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def _position(after: str) -> tuple[str, str]:
    try:
        number, key = base64.urlsafe_b64decode(after.encode()).decode().split("\n")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"{after!r} is not a cursor of the dunning proposal") from None
    return number, key


def page_of(proposal: Proposal, first: int, after: str | None) -> DunningProposal:
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"first must be 1 to {MAX_PAGE}, got {first}")
    letters = proposal.letters
    if after is not None:
        position = _position(after)
        letters = [p for p in letters if (p.customer_number, p.letter.key) > position]
    return DunningProposal(
        business_date=proposal.business_date, segment=proposal.segment,
        customers=proposal.customers, quiet=proposal.quiet, no_procedure=proposal.no_procedure,
        no_address=proposal.no_address, total_letters=len(proposal.letters),
        letters=[ProposedDunningLetter.of(p) for p in letters[:first]],
        has_next_page=len(letters) > first)


@strawberry.type
class DunningProposalQuery:
    @strawberry.field(description="The letters a dunning run on `date` would send (for one "
                                  "segment's customers, or all).")
    async def dunning_proposal(self, info: Info, date: date, segment: str | None = None,
                               first: int = DEFAULT_PAGE, after: str | None = None,
                               ) -> DunningProposal:
        require(info.context.user, Action.READ)
        database = info.context.collections.database
        assert database is not None

        def read() -> Proposal:
            with database.connect() as conn:
                return propose(conn, date, segment)

        return page_of(await run_in_threadpool(read), first, after)
