"""Retention policies, held as data: for each record class, the fact that starts its clock
(``trigger``), how long after it the ``action`` (archive, purge, erase personal data) is due
(``after``), and how long the law requires it kept (``retain``).

Periods are ISO 8601 (``P2Y``, ``P6M``, ``P10Y``, ``P0D``): years and months are calendar
steps, a day past the end of a short month falls on its last day (2020-02-29 plus ``P1Y`` is
2021-02-28), as PostgreSQL adds an interval to a date, so that the read model's due dates and
ours agree. Purging or erasing before the legal retention has run out is refused: the law's
period is a floor for every destructive action; archiving keeps the data, so it may come first.

All policies are one aggregate, ``RetentionPolicies``: each change is a ``PolicySet`` event, and
a class never set reads as the shipped default (``compliance/retention_defaults.toml``).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate, DomainError, derived_id

RECORD_CLASSES = ("invoice", "credit", "promise", "dispute", "dunning_letter", "email",
                  "contact", "activity", "resubmission", "agency_case", "customer_personal")
ARCHIVE, PURGE, ERASE = "archive", "purge", "erase"
ACTIONS = (ARCHIVE, PURGE, ERASE)
CLEARED, CLOSED, SENT, LAST_ACTIVITY = "cleared", "closed", "sent", "last_activity"
TRIGGERS = (CLEARED, CLOSED, SENT, LAST_ACTIVITY)
#: The fact that ends each record class's working life; the customer's last activity may
#: start any class's clock instead.
OWN_TRIGGER = {"invoice": CLEARED, "credit": CLEARED, "promise": CLOSED, "dispute": CLOSED,
               "dunning_letter": SENT, "email": SENT, "contact": LAST_ACTIVITY,
               "activity": CLOSED, "resubmission": CLOSED, "agency_case": CLOSED,
               "customer_personal": LAST_ACTIVITY}
#: Classes held per customer, not per stream: only their personal data can go (erase).
PER_CUSTOMER = ("contact", "customer_personal")
#: The longest period a policy may name (beyond it, a date would leave the calendar).
MAX_YEARS = 100

_PERIOD = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


class RetentionPolicyError(DomainError):
    """A policy that cannot work as given: an unknown record class, trigger or action, a
    malformed period, or a purge before the legal retention ends."""


@dataclass(frozen=True)
class Period:
    """An ISO 8601 period of whole years, months and days (weeks count as seven days)."""

    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str, what: str = "period") -> Period:
        found = _PERIOD.match((text or "").strip().upper())
        if found is None:
            raise RetentionPolicyError(
                f"{what} {text!r} is not an ISO 8601 period of years, months, weeks and days "
                f"(P10Y, P6M, P30D, P0D)")
        years, months, weeks, days = (int(part or 0) for part in found.groups())
        period = cls(years, months, weeks * 7 + days)
        if period.years + period.months / 12 + period.days / 365 > MAX_YEARS:
            raise RetentionPolicyError(f"{what} {text} is longer than {MAX_YEARS} years")
        return period

    def __str__(self) -> str:
        parts = [f"{n}{unit}" for n, unit in ((self.years, "Y"), (self.months, "M"),
                                              (self.days, "D")) if n]
        return "P" + ("".join(parts) or "0D")

    def after(self, start: date) -> date:
        """``start`` plus this period: months first (clamped to the month's end), then days."""
        month = start.month - 1 + self.months
        year = start.year + self.years + month // 12
        month = month % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return date(year, month, day) + timedelta(days=self.days)

    def latest_start(self, end: date) -> date:
        """The latest start whose period has run out by ``end`` (``after(start) <= end``):
        what a date column is compared with, so that an index serves the question."""
        start = end - timedelta(days=self.days + 31 * self.months + 366 * self.years + 3)
        while self.after(start + timedelta(days=1)) <= end:
            start += timedelta(days=1)
        return start


def check_policy(record_class: str, trigger: str, action: str, after: str,
                 retain: str) -> dict[str, str]:
    """The policy as recorded (periods in their shortest form), or the reason it cannot be."""
    if record_class not in RECORD_CLASSES:
        raise RetentionPolicyError(f"there is no record class {record_class!r}; known: "
                                   f"{', '.join(RECORD_CLASSES)}")
    allowed = sorted({OWN_TRIGGER[record_class], LAST_ACTIVITY})
    if trigger not in allowed:
        raise RetentionPolicyError(f"a {record_class} policy starts on "
                                   f"{' or '.join(allowed)}, not {trigger!r}")
    if action not in ACTIONS:
        raise RetentionPolicyError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    if (record_class in PER_CUSTOMER) != (action == ERASE):
        raise RetentionPolicyError(
            f"{record_class} can only be erased (personal data, kept per customer)"
            if record_class in PER_CUSTOMER else
            f"{record_class} records are archived or purged; erasure is for personal data "
            f"({', '.join(PER_CUSTOMER)})")
    wait, keep = Period.parse(after, "after"), Period.parse(retain, "retain")
    reference = date(2001, 1, 31)
    if action != ARCHIVE and wait.after(reference) < keep.after(reference):
        raise RetentionPolicyError(
            f"{record_class} must be kept {keep} (legal retention); it cannot be {action}d "
            f"after {wait}")
    return {"record_class": record_class, "trigger": trigger, "action": action,
            "after": str(wait), "retain": str(keep)}


class RetentionPolicies(CollectionsAggregate):
    """Every record class's policy that was ever set: one record, so each change is an event."""

    TOPIC = "ledger_collect.RetentionPolicies"

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return derived_id("retention-policies", "the")

    @classmethod
    def start(cls, *, actor: str, business_date: date) -> RetentionPolicies:
        return cls(actor=actor, business_date=business_date)

    @event("Started", topic="ledger_collect.RetentionPolicies.Started")
    def __init__(self, actor: str, business_date: date) -> None:
        self.policies: dict[str, dict[str, str]] = {}

    def set_policy(self, record_class: str, trigger: str, action: str, after: str,
                   retain: str, *, actor: str, business_date: date) -> bool:
        """Set a class's policy; False when it is already so."""
        policy = check_policy(record_class, trigger, action, after, retain)
        if self.policies.get(record_class) == policy:
            return False
        self._policy_set(**policy, actor=actor, business_date=business_date)
        return True

    @event("PolicySet", topic="ledger_collect.RetentionPolicies.PolicySet")
    def _policy_set(self, record_class: str, trigger: str, action: str, after: str,
                    retain: str, actor: str, business_date: date) -> None:
        self.policies[record_class] = {"record_class": record_class, "trigger": trigger,
                                       "action": action, "after": after, "retain": retain}


POLICIES_ID = RetentionPolicies.create_id()
