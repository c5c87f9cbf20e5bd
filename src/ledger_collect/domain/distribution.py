"""Who works which customer of a segment's worklist on a day.

The customers come in the collection strategy's order (highest score first). Each goes to:

- ``own``: its assigned specialist, when present that day (or when the segment has no team:
  then nobody is known to be away, and the assignment stands as it is);
- ``substitute``: the substitute named for its specialist's absence;
- ``unassigned``: dealt out among the specialists present, when it has no specialist;
- ``owner_away``: dealt out likewise, when its specialist is absent with no substitute named,
  or is not (or no longer) a member of the segment's team;
- ``unplaced``: nobody, when no specialist of the team is present.

Dealing. The unassigned customers are one pool, the customers of specialists away another;
each is dealt separately, in the strategy's order, serpentine: the present specialists in a
fixed order take one customer each, then the next round in the reverse order, and so on. With
k specialists and n customers in a pool each gets ⌊n/k⌋ or ⌈n/k⌉ of it. The second pool's order
is chosen so that its extra customers go first to those who got ⌊n/k⌋ of the first, so the two
pools together are dealt as evenly too. Priorities are balanced: within a pool the specialist
with the top customer gets the last of the next round, so for scores of zero or more any two
specialists' sums of scores differ by at most the pool's highest score (with negative points:
by at most the pool's score range plus its largest absolute score).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

OWN, SUBSTITUTE, UNASSIGNED, OWNER_AWAY, UNPLACED = (
    "own", "substitute", "unassigned", "owner_away", "unplaced")
KINDS = (OWN, SUBSTITUTE, UNASSIGNED, OWNER_AWAY, UNPLACED)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A customer on the segment's list for the day, as the strategy ranked it."""

    customer_id: UUID
    owner: str | None  # the assigned specialist; None: unassigned
    score: int


@dataclass(frozen=True)
class Placement:
    """For each candidate, in the same order: who works it (None: nobody) and why."""

    workers: list[str | None]
    kinds: list[str]

    def count(self, kind: str) -> int:
        return self.kinds.count(kind)


def deal(count: int, order: Sequence[str]) -> list[str]:
    """The specialist of each of ``count`` customers dealt serpentine over ``order``."""
    k = len(order)
    found = []
    for i in range(count):
        turn, seat = divmod(i, k)
        found.append(order[seat if turn % 2 == 0 else k - 1 - seat])
    return found


def _second_order(count: int, present: Sequence[str], had: Mapping[str, int]) -> list[str]:
    """An order to deal ``count`` more customers in, such that the round left incomplete
    reaches first those who had fewer (``had``), then the others, in ``present``'s order."""
    fewest_first = sorted(present, key=lambda s: (had[s], present.index(s)))
    turns = count // len(present)
    return fewest_first if turns % 2 == 0 else fewest_first[::-1]


def distribute(candidates: Sequence[Candidate], *, team: bool, present: Sequence[str],
               absent: Mapping[str, str | None]) -> Placement:
    """Place each candidate. ``team``: the segment has a team (else every specialist counts as
    present); ``present``: its members present on the day, in dealing order; ``absent``: its
    members away that day, each with their substitute (None: nobody named)."""
    at_work = set(present)
    workers: list[str | None] = [None] * len(candidates)
    kinds = [UNPLACED] * len(candidates)
    pools: dict[str, list[int]] = {UNASSIGNED: [], OWNER_AWAY: []}
    for n, candidate in enumerate(candidates):
        owner = candidate.owner
        if owner is None:
            pools[UNASSIGNED].append(n)
        elif not team or owner in at_work:
            workers[n], kinds[n] = owner, OWN
        elif absent.get(owner) in at_work:
            workers[n], kinds[n] = absent[owner], SUBSTITUTE
        else:
            pools[OWNER_AWAY].append(n)
    if not present:
        return Placement(workers, kinds)
    first, second = pools[UNASSIGNED], pools[OWNER_AWAY]
    dealt = deal(len(first), present)
    had = {s: dealt.count(s) for s in present}
    dealt += deal(len(second), _second_order(len(second), present, had))
    for n, kind, worker in zip(first + second, [UNASSIGNED] * len(first)
                               + [OWNER_AWAY] * len(second), dealt, strict=True):
        workers[n], kinds[n] = worker, kind
    return Placement(workers, kinds)
