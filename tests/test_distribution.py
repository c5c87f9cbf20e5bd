"""Spreading a segment's list over the specialists present: who keeps what, who stands in, and
the dealing of the rest at its edges — ⌊n/k⌋ or ⌈n/k⌉ each, for each pool and for both pools
together, and sums of scores within the bound the serpentine deal guarantees."""

from __future__ import annotations

import random
import uuid
from collections import Counter

import pytest

from ledger_collect.domain.distribution import (
    OWN,
    OWNER_AWAY,
    SUBSTITUTE,
    UNASSIGNED,
    UNPLACED,
    Candidate,
    deal,
    distribute,
)


def candidates(*owners: str | None, scores: list[int] | None = None) -> list[Candidate]:
    scores = scores or sorted((10 * n for n in range(len(owners))), reverse=True)
    return [Candidate(uuid.uuid4(), owner, score) for owner, score in zip(owners, scores,
                                                                           strict=True)]


def test_serpentine_dealing_of_six_over_two_and_ten_over_three() -> None:
    assert deal(6, ["alice", "bob"]) == ["alice", "bob", "bob", "alice", "alice", "bob"]
    dealt = deal(10, ["alice", "bob", "chloe"])
    assert dealt == ["alice", "bob", "chloe", "chloe", "bob", "alice", "alice", "bob", "chloe",
                     "chloe"]
    assert Counter(dealt) == {"chloe": 4, "alice": 3, "bob": 3}  # ⌈10/3⌉ once, ⌊10/3⌋ twice
    # scores 50..0: alice 50+20+10 = 80, bob 40+30+0 = 70: within the top score, 50
    scores = [50, 40, 30, 20, 10, 0]
    placed = distribute(candidates(*[None] * 6, scores=scores), team=True,
                        present=["alice", "bob"], absent={})
    sums = Counter()
    for worker, score in zip(placed.workers, scores, strict=True):
        sums[worker] += score
    assert sums == {"alice": 80, "bob": 70}


def test_own_substitute_unassigned_owner_away_and_unplaced() -> None:
    listed = candidates("alice", "bob", None, "chloe", "dan", None)
    placed = distribute(listed, team=True, present=["alice", "eve"],
                        absent={"bob": "eve", "chloe": None})
    # dan is not in the team: his customer is dealt out like chloe's
    assert list(zip(placed.workers, placed.kinds, strict=True)) == [
        ("alice", OWN), ("eve", SUBSTITUTE), ("alice", UNASSIGNED), ("eve", OWNER_AWAY),
        ("alice", OWNER_AWAY), ("eve", UNASSIGNED)]
    nobody = distribute(listed, team=True, present=[], absent={"alice": None})
    assert set(nobody.kinds) == {UNPLACED} and set(nobody.workers) == {None}
    no_team = distribute(listed, team=False, present=[], absent={})
    assert no_team.kinds == [OWN, OWN, UNPLACED, OWN, OWN, UNPLACED]
    assert no_team.count(UNPLACED) == 2


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_each_pool_and_both_together_are_dealt_evenly(k: int) -> None:
    present = [f"s{i}" for i in range(k)]
    for first in range(13):
        for second in range(13):
            listed = candidates(*[None] * first, *["gone"] * second,
                                scores=[0] * (first + second))
            placed = distribute(listed, team=True, present=present, absent={"gone": None})
            for pool in ((UNASSIGNED,), (OWNER_AWAY,), (UNASSIGNED, OWNER_AWAY)):
                n = sum(first if kind == UNASSIGNED else second for kind in pool)
                got = Counter(w for w, kind in zip(placed.workers, placed.kinds, strict=True)
                              if kind in pool)
                counts = [got.get(s, 0) for s in present]
                assert set(counts) <= {n // k, -(-n // k)}, (first, second, pool, counts)


def test_sums_of_scores_stay_within_the_bound() -> None:
    rnd = random.Random(7)
    for _ in range(3000):
        k, n = rnd.randint(1, 6), rnd.randint(0, 60)
        low = rnd.choice((0, -50))
        scores = sorted((rnd.randint(low, 100) for _ in range(n)), reverse=True)
        present = [f"s{i}" for i in range(k)]
        placed = distribute(candidates(*[None] * n, scores=scores), team=True,
                            present=present, absent={})
        sums = {s: 0 for s in present}
        for worker, score in zip(placed.workers, scores, strict=True):
            sums[worker] += score
        spread = max(sums.values()) - min(sums.values())
        if not scores:
            assert spread == 0
        elif scores[-1] >= 0:
            assert spread <= scores[0], (k, scores, sums)
        else:
            assert spread <= scores[0] - scores[-1] + max(abs(scores[0]), abs(scores[-1]))
