"""Aging buckets: ranges of days past due, checked once, used by any reader that ages amounts.

Days past due are counted at query time (``as_of - due_date``): an item due today is 0 days
past due (not due), one due yesterday 1. Buckets must cover every day exactly once: the first
open below (everything not yet due falls in it), the last open-ended, each starting the day
after the previous one ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Bucket:
    label: str
    first_day: int | None  # days past due, inclusive; None: no lower bound
    last_day: int | None  # inclusive; None: no upper bound


DEFAULT_BUCKETS: tuple[Bucket, ...] = (
    Bucket("not due", None, 0),
    Bucket("1-30", 1, 30),
    Bucket("31-60", 31, 60),
    Bucket("61-90", 61, 90),
    Bucket("91-120", 91, 120),
    Bucket("over 120", 121, None),
)


def check_buckets(buckets: Iterable[Bucket | tuple[str, int | None, int | None]]
                  ) -> tuple[Bucket, ...]:
    """The buckets as ``Bucket``s, or a ValueError saying what is wrong with them."""
    checked = tuple(b if isinstance(b, Bucket) else Bucket(*b) for b in buckets)
    if not checked:
        raise ValueError("aging needs at least one bucket")
    labels = [b.label for b in checked]
    if any(not (label or "").strip() for label in labels) or len(set(labels)) != len(labels):
        raise ValueError(f"aging buckets need distinct, non-empty labels, got {labels}")
    if checked[0].first_day is not None:
        raise ValueError(
            f"the first aging bucket ({checked[0].label}) must have no lower bound, so that "
            f"every item falls in a bucket; it starts at day {checked[0].first_day}")
    if checked[-1].last_day is not None:
        raise ValueError(
            f"the last aging bucket ({checked[-1].label}) must be open-ended; it stops at day "
            f"{checked[-1].last_day}")
    for bucket in checked:
        if bucket.first_day is not None and bucket.last_day is not None \
                and bucket.first_day > bucket.last_day:
            raise ValueError(f"aging bucket {bucket.label} starts at day {bucket.first_day}, "
                             f"after its last day {bucket.last_day}")
    for before, after in pairwise(checked):
        if before.last_day is None or after.first_day is None:
            raise ValueError(
                f"only the first aging bucket may lack a lower bound and only the last an "
                f"upper bound ({before.label} / {after.label})")
        if after.first_day <= before.last_day:
            raise ValueError(f"aging buckets {before.label} and {after.label} overlap: "
                             f"day {after.first_day} falls in both")
        if after.first_day > before.last_day + 1:
            raise ValueError(
                f"aging buckets {before.label} and {after.label} leave a gap: days "
                f"{before.last_day + 1} to {after.first_day - 1} fall in neither")
    return checked


def thresholds(buckets: tuple[Bucket, ...]) -> list[int]:
    """First days of buckets 2..n: ``width_bucket(days, thresholds)`` is a bucket's index."""
    return [b.first_day for b in buckets[1:] if b.first_day is not None]
