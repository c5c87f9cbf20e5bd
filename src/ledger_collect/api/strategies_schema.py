"""Publishing collection strategies: a supervisor changes how their segments' worklists are
ranked by publishing a new version (versions never change; the new one becomes the active one
of its segment) or by making an earlier version active again (a roll-back).

A segment's strategy is its supervisors' business; the default strategy (no segment), which
ranks every segment without one of its own, is the admin's. The change shows on the next
worklist read: rankings are kept per set of active strategy versions, and the projector ranks
the day with the new ones as soon as the change commits (a read before that ranks its list in
the query). A change that makes a version active also requests a run of the worklist
generation (``jobs.worklists``), once it has committed: the segments it concerns get a new
version of the day's list, ranked with it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import strawberry
from starlette.concurrency import run_in_threadpool

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Conflict, NotFound, Problem, RuleBroken, command_mutation
from ledger_collect.api.generation_requests import generate_again
from ledger_collect.api.permissions import Action, User, require, require_everywhere
from ledger_collect.api.worklist_schema import CollectionStrategy
from ledger_collect.commands import values
from ledger_collect.domain.base import ValidationError
from ledger_collect.projections.worklist.strategy_rules import (
    Strategy,
    StrategyError,
    UnknownStrategyError,
)
from ledger_collect.projections.worklist.strategy_versions import (
    activate,
    publish,
    strategy_version,
)


@strawberry.input(description="A rule: adds `points` to a customer's score when its fact "
                               "(`kind`) is at least / more than the threshold (or, for "
                               "risk_class, one of `riskClasses`).")
class StrategyRuleInput:
    name: str
    kind: str = strawberry.field(description="overdue_amount, days_overdue, broken_promises, "
                                             "dunning_level, risk_class, open_disputes or "
                                             "disputed_amount.")
    points: int = strawberry.field(description="Not 0; negative points push a customer down.")
    at_least: Decimal | None = None
    more_than: Decimal | None = None
    risk_classes: list[str] | None = None
    within_days: int | None = strawberry.field(
        default=None, description="broken_promises rules: how far back promises count.")

    def definition(self) -> dict[str, Any]:
        """The rule as the strategy definition stores it (checked by ``parse_rules``)."""
        found: dict[str, Any] = {"name": self.name, "kind": self.kind, "points": self.points}
        for key, value in (("at_least", self.at_least), ("more_than", self.more_than),
                           ("in", self.risk_classes), ("within_days", self.within_days)):
            if value is not None:
                found[key] = str(value) if isinstance(value, Decimal) else value
        return found


@strawberry.input(description="A new version of a collection strategy.")
class PublishCollectionStrategyInput:
    code: str = strawberry.field(description="The strategy's code; a new code starts at "
                                             "version 1.")
    segment: str | None = strawberry.field(
        default=None, description="The segment it ranks; none: the default strategy.")
    description: str = ""
    rules: list[StrategyRuleInput]
    dunning_notice_days: int = strawberry.field(
        default=14, description="An item dunned fewer days ago is not to be collected yet.")
    recent_days: int = strawberry.field(default=90,
                                        description="How far back broken promises count.")
    activate: bool = strawberry.field(default=True,
                                      description="Make it the segment's active version now.")


@strawberry.input(description="Make an existing version the active one of its segment again.")
class ActivateCollectionStrategyInput:
    code: str
    version: int


@strawberry.type(description="The strategy version now stored (and active, if asked).")
class StrategyPublished:
    strategy: CollectionStrategy


@strawberry.type(description="The version is now the active one of its segment.")
class StrategyActivated:
    strategy: CollectionStrategy


#: Publications are serialised by a table lock: two at once make two versions; one that waits
#: longer than ``LOCK_WAIT`` for the other gives up with ``Conflict``.
LOCK_WAIT = "5s"


@strawberry.type
class StrategyMutations:
    @command_mutation(StrategyPublished,
                      description="Publish a new version of a collection strategy.")
    async def publish_collection_strategy(self, info: Info, input: PublishCollectionStrategyInput,
                                          ) -> StrategyPublished | Problem:
        _require(info.context.user, input.segment)
        definition = {"dunning_notice_days": input.dunning_notice_days,
                      "recent_days": input.recent_days,
                      "rules": [rule.definition() for rule in input.rules]}
        return await _change(info, StrategyPublished, lambda conn: publish(
            conn, code=input.code, definition=definition, segment=input.segment,
            description=input.description, actor=info.context.user.id,
            activate=input.activate, limits=info.context.collections.limits))

    @command_mutation(StrategyActivated,
                      description="Make an earlier (or inactive) version active again.")
    async def activate_collection_strategy(self, info: Info, input: ActivateCollectionStrategyInput,
                                           ) -> StrategyActivated | Problem:
        try:
            values.code(input.code, "code", info.context.collections.limits)
        except ValidationError as error:
            return RuleBroken(message=str(error), code=error.code)
        try:
            found = await strategy_version(info.context.pool, input.code, input.version)
        except UnknownStrategyError as error:
            require(info.context.user, Action.STRATEGY)  # no existence leak to others
            return NotFound(message=str(error), code=error.code)
        _require(info.context.user, found.segment)
        return await _change(info, StrategyActivated,
                             lambda conn: activate(conn, input.code, input.version))


def _require(user: User, segment: str | None) -> None:
    """A segment's strategy takes the grant for that segment; the default strategy ranks
    every segment without one of its own, so it takes the grant everywhere."""
    if segment is None or not segment.strip():
        require_everywhere(user, Action.STRATEGY, "the default strategy")
    else:
        require(user, Action.STRATEGY, segment.strip())


async def _change(info: Info, answer: type[StrategyPublished | StrategyActivated],
                  change: Callable[[Any], Strategy]) -> Any:
    def run() -> Strategy:
        with info.context.collections.database.connect() as conn:
            conn.execute(f"SET lock_timeout = '{LOCK_WAIT}'")
            return change(conn)
    try:
        strategy = await run_in_threadpool(run)
    except psycopg.errors.LockNotAvailable:
        return Conflict(message=f"another strategy change held the strategies for more than "
                                f"{LOCK_WAIT}; try again", code="CONFLICT")
    except UnknownStrategyError as error:
        return NotFound(message=str(error), code=error.code)
    except StrategyError as error:
        return RuleBroken(message=str(error), code=error.code)
    if strategy.active:
        await generate_again(info, "a strategy change")
    return answer(strategy=CollectionStrategy.of(strategy))
