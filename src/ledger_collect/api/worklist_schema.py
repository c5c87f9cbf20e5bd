"""The worklist: a specialist's customers ranked by the collection strategy, as of a day.

Anyone who may read sees any list (their own, a colleague's, the unassigned customers): the
list is read-only, working a customer happens through the casework mutations. No personal data
is served here (customer names are company names; specialists are user ids).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Annotated
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.pages import After, BadUserInput, PageInfo
from ledger_collect.api.permissions import Action, require
from ledger_collect.projections.worklist import generated_lists
from ledger_collect.projections.worklist import ranked_pages as ranking
from ledger_collect.projections.worklist.ranking_sql import DayOutOfRangeError
from ledger_collect.projections.worklist.strategy_rules import (
    Rule,
    Strategy,
    StrategyError,
    StrategySet,
)
from ledger_collect.projections.worklist.strategy_versions import (
    active_strategies,
    strategy_version,
    strategy_versions,
)

date_type = date  # a field named date shadows the type in its class

DEFAULT_PAGE = 50


@strawberry.type(description="A rule of a collection strategy.")
class StrategyRule:
    name: str
    kind: str = strawberry.field(description="overdue_amount, days_overdue, broken_promises, "
                                             "dunning_level, risk_class, open_disputes or "
                                             "disputed_amount.")
    points: int
    at_least: Decimal | None = strawberry.field(description="Met when the fact is at least this.")
    more_than: Decimal | None = strawberry.field(description="Met when the fact is above this.")
    risk_classes: list[str] = strawberry.field(description="risk_class rules: met for these.")
    within_days: int | None = strawberry.field(
        description="broken_promises rules: how far back promises count (else recentDays).")

    @classmethod
    def of(cls, rule: Rule) -> StrategyRule:
        def number(value: Decimal | int | None) -> Decimal | None:
            return None if value is None else Decimal(value)
        return cls(name=rule.name, kind=rule.kind, points=rule.points,
                   at_least=number(rule.at_least), more_than=number(rule.more_than),
                   risk_classes=list(rule.classes), within_days=rule.within_days)


@strawberry.type(description="One version of a collection strategy. Versions never change; a "
                             "new version replaces the active one of its segment.")
class CollectionStrategy:
    code: str
    version: int
    segment: str | None = strawberry.field(description="Null: the default strategy, for "
                                                       "segments without their own.")
    description: str
    active: bool
    created_by: str
    created_at: datetime | None
    dunning_notice_days: int = strawberry.field(
        description="An item dunned fewer days ago than this is not to be collected yet.")
    recent_days: int = strawberry.field(description="How far back broken promises count.")
    rules: list[StrategyRule]

    @classmethod
    def of(cls, strategy: Strategy) -> CollectionStrategy:
        return cls(code=strategy.code, version=strategy.version, segment=strategy.segment,
                   description=strategy.description, active=strategy.active,
                   created_by=strategy.created_by, created_at=strategy.created_at,
                   dunning_notice_days=strategy.dunning_notice_days,
                   recent_days=strategy.recent_days,
                   rules=[StrategyRule.of(rule) for rule in strategy.rules])


@strawberry.type(description="A specialist away on the day of a generated list.")
class AbsenceApplied:
    specialist: str
    substitute: str | None = strawberry.field(description="Null: nobody was named.")


@strawberry.type(description="What one rule gave to an entry's score, and why.")
class ScoreLine:
    rule: str
    points: int = strawberry.field(description="0 when the rule's condition does not hold.")
    detail: str


@strawberry.type(description="A customer on a worklist, with what ranked it there.")
class WorklistEntry:
    rank: int = strawberry.field(description="Place on the list, from 1.")
    customer_id: UUID
    number: str
    name: str
    segment: str
    currency: str = strawberry.field(description="Of every amount of the entry.")
    risk_class: str
    specialist: str | None
    score: int = strawberry.field(description="Valuation points: the sum of the explanation.")
    strategy_code: str
    strategy_version: int
    overdue_amount: Decimal = strawberry.field(description="Open amount of the items overdue "
                                                           "on the day.")
    amount_to_collect: Decimal = strawberry.field(
        description="The overdue amount less the items under an open dispute, an unconfirmed "
                    "promise, a current dunning notice or a later follow-up.")
    under_dispute: Decimal
    under_promise: Decimal
    under_dunning_notice: Decimal
    followed_up_later: Decimal
    open_amount: Decimal = strawberry.field(description="Everything open, due or not.")
    oldest_due_date: date
    days_overdue: int = strawberry.field(description="Of the oldest overdue item, on the day.")
    broken_promises: int = strawberry.field(
        description="Promises broken (or only partly kept) in the strategy's recent days.")
    highest_dunning_level: int
    open_disputes: int
    disputed_amount: Decimal
    processed_today: bool = strawberry.field(
        description="Casework (contact, promise, dispute, follow-up, note, email) was recorded "
                    "for the customer on the list's day.")
    processed_by: list[str]
    next_follow_up: date | None = strawberry.field(
        description="The first open follow-up after the day: some invoices are to be "
                    "followed up later (a customer-level one keeps the customer off the list).")
    tasks_due: int = strawberry.field(
        description="Open follow-ups and activities of the customer due on the day (or before "
                    "and not done yet): they bring a customer onto the list even with nothing "
                    "overdue.")
    ranked_score: int = strawberry.field(
        description="The score the list was ranked by: on a generated list, when it was "
                    "generated (`score` and the explanation read the facts now).")
    assignment: str | None = strawberry.field(
        description="On a generated list, why the customer is on it: own (its specialist's), "
                    "substitute (of its absent specialist), unassigned (a share of the "
                    "unassigned customers), owner_away (a share of those whose specialist is "
                    "away with no substitute, or not in the team) or unplaced (nobody was "
                    "present). Null on a list ranked as it is read.")
    assigned_to: str | None = strawberry.field(
        description="On a generated list: the customer's assigned specialist when it was "
                    "generated (whom a substitute stands in for).")
    list_version: int | None = strawberry.field(
        description="On a generated list: the version of its segment's list of the day.")

    @strawberry.field(description="Every rule of the strategy, in order, with the points it "
                                  "gave.")
    def explanation(self) -> list[ScoreLine]:
        # Worked out only when asked for: a list page shows scores, not their explanation.
        entry: ranking.Entry = self._entry  # type: ignore[attr-defined]
        return [ScoreLine(rule=line.rule, points=line.points, detail=line.detail)
                for line in entry.explanation()]

    @classmethod
    def of(cls, entry: ranking.Entry) -> WorklistEntry:
        facts, amounts, strategy = entry.facts, entry.amounts, entry.strategy
        node = cls(
            rank=entry.rank, customer_id=entry.customer_id, number=entry.number,
            name=entry.name, segment=entry.segment, currency=entry.currency,
            risk_class=entry.risk_class, specialist=entry.specialist, score=entry.score,
            strategy_code=strategy.code, strategy_version=strategy.version,
            overdue_amount=amounts.overdue, amount_to_collect=amounts.to_collect,
            under_dispute=amounts.under_dispute, under_promise=amounts.under_promise,
            under_dunning_notice=amounts.under_dunning_notice,
            followed_up_later=amounts.followed_up_later, open_amount=entry.open_amount,
            oldest_due_date=entry.oldest_due, days_overdue=facts.days_overdue,
            broken_promises=facts.broken_promises(entry.as_of, strategy.recent_days),
            highest_dunning_level=facts.dunning_level, open_disputes=facts.open_disputes,
            disputed_amount=facts.disputed_amount, processed_today=entry.processed,
            processed_by=list(entry.processed_by), next_follow_up=entry.next_follow_up,
            tasks_due=entry.tasks_due, ranked_score=entry.ranked[0], assignment=entry.assignment, assigned_to=entry.owner,
            list_version=entry.list_version)
        node._entry = entry  # type: ignore[attr-defined]  # not a GraphQL field: see explanation
        return node


@strawberry.type(name="WorklistEntryEdge")
class WorklistEdge:
    """The worklist's edge: its cursor worked out only when asked for (a page shows its
    entries and its end cursor, rarely every entry's)."""

    cursor: str = strawberry.field(resolver=lambda root: root.node._entry.cursor)
    node: WorklistEntry


@strawberry.type(description="A segment's worklist of a day as generated: the version now "
                             "current, what it was made from and where its customers went.")
class GeneratedWorklist:
    segment: str
    date: date_type
    version: int = strawberry.field(description="Each generation of the day is a new version.")
    strategy_code: str
    strategy_version: int
    team: bool = strawberry.field(description="False: the segment had no team; assignments "
                                              "stood as they were.")
    present: list[str] = strawberry.field(description="The specialists it was dealt over.")
    absences: list[AbsenceApplied]
    customers: int
    own: int
    substitute: int
    unassigned: int
    owner_away: int
    unplaced: int = strawberry.field(description="Placed with nobody: no specialist present.")
    generated_by: str
    generated_at: datetime

    @classmethod
    def of(cls, found: generated_lists.ListRecord) -> GeneratedWorklist:
        return cls(segment=found.segment, date=found.day, version=found.version,
                   strategy_code=found.strategy_code, strategy_version=found.strategy_version,
                   team=found.team, present=found.present,
                   absences=[AbsenceApplied(specialist=a, substitute=s)
                             for a, s in zip(found.absent, found.substitutes, strict=True)],
                   customers=found.customers, own=found.own, substitute=found.substitute,
                   unassigned=found.unassigned, owner_away=found.owner_away,
                   unplaced=found.unplaced, generated_by=found.generated_by,
                   generated_at=found.generated_at)


@strawberry.type(description="A page of a worklist.")
class Worklist:
    specialist: str | None = strawberry.field(description="Null for the unassigned customers.")
    as_of: date = strawberry.field(description="The day the list was ranked for.")
    strategies: list[CollectionStrategy] = strawberry.field(
        description="The strategy versions the page was ranked with.")
    edges: list[WorklistEdge]
    page_info: PageInfo

    @strawberry.field(description="Customers on the whole list (one more query: ask only when "
                                  "it is shown).")
    async def total_count(self) -> int:
        return await self.counter()  # type: ignore[attr-defined,no-any-return]

    def counting(self, counter: Callable[[], Awaitable[int]]) -> Worklist:
        """How ``totalCount`` is found, if asked for (not a GraphQL field)."""
        self.counter = counter  # type: ignore[attr-defined]
        return self

    @strawberry.field(description="The lists generated for the day, by segment (one query): "
                                  "empty when the day's lists are ranked as they are read.")
    async def generated(self, info: Info) -> list[GeneratedWorklist]:
        return [GeneratedWorklist.of(found) for found in
                await generated_lists.lists_of_day(info.context.pool, self.as_of)]

    @strawberry.field(description="The page's entries without their cursors.")
    def nodes(self) -> list[WorklistEntry]:
        return [edge.node for edge in self.edges]


@strawberry.type
class WorklistQuery:
    @strawberry.field(description="A specialist's customers ranked by the collection strategy "
                                  "(the viewer's own list unless `specialist` or `unassigned` "
                                  "says otherwise). Customers with a follow-up after the day "
                                  "are left out until then; those processed on the day are "
                                  "left out unless `includeProcessed` (or `processedOnly`). "
                                  "On a day whose lists were generated, the list generated "
                                  "for the specialist (`unassigned`: the customers placed "
                                  "with nobody).")
    async def worklist(
            self, info: Info, specialist: str | None = None, unassigned: bool = False,
            as_of: Annotated[date | None, strawberry.argument(
                name="date", description="The day to rank for; today by default.")] = None,
            include_processed: bool = False, processed_only: bool = False,
            strategy_code: Annotated[str | None, strawberry.argument(
                description="Rank everybody with this strategy (with strategyVersion) instead "
                            "of each segment's active one.")] = None,
            strategy_version: int | None = None,
            first: int = DEFAULT_PAGE,
            after: After = None) -> Worklist:
        context = info.context
        require(context.user, Action.READ)
        if unassigned and specialist is not None:
            raise BadUserInput("ask for one specialist's list or for the unassigned customers, "
                               "not both")
        if first < 1:
            raise BadUserInput(f"first must be at least 1, got {first}")
        owner = None if unassigned else (specialist or context.user.id)
        day = as_of or context.business_date
        strategies = await _strategies(context.pool, strategy_code, strategy_version)
        processed = "only" if processed_only else "include" if include_processed else "exclude"
        try:
            page = await ranking.worklist(context.pool, strategies, specialist=owner, as_of=day,
                                          processed=processed, limit=first, after=after,
                                          generated=strategy_code is None)
        except (ranking.CursorError, DayOutOfRangeError) as error:
            raise BadUserInput(str(error)) from None
        edges = [WorklistEdge(node=WorklistEntry.of(e)) for e in page.entries]
        return Worklist(
            specialist=owner, as_of=day,
            strategies=[CollectionStrategy.of(s) for s in page.strategies], edges=edges,
            page_info=PageInfo(has_next_page=page.has_next,
                               has_previous_page=after is not None,
                               start_cursor=page.entries[0].cursor if edges else None,
                               end_cursor=page.entries[-1].cursor if edges else None),
        ).counting(partial(ranking.count, context.pool, strategies, specialist=owner,
                           as_of=day, processed=processed, generated=strategy_code is None))

    @strawberry.field(description="Stored collection strategy versions (of one code, or all), "
                                  "newest first; old versions stay readable.")
    async def collection_strategies(self, info: Info,
                                    code: str | None = None) -> list[CollectionStrategy]:
        require(info.context.user, Action.READ)
        return [CollectionStrategy.of(s) for s in await strategy_versions(info.context.pool,
                                                                           code)]


async def _strategies(pool: object, code: str | None, version: int | None) -> StrategySet:
    if code is None and version is None:
        return await active_strategies(pool)
    if code is None or version is None:
        raise BadUserInput("give strategyCode and strategyVersion together")
    try:
        return StrategySet(await strategy_version(pool, code, version))
    except StrategyError as error:
        raise BadUserInput(str(error)) from None
