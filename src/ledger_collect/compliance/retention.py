"""Stand-in for part P's retention module (its contract only), replaced by P's on merge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Policy:
    record_class: str
    trigger: str
    action: str
    after: str
    retain: str


_DEFAULTS = [
    Policy("invoice", "cleared", "archive", "P2Y", "P10Y"),
    Policy("credit", "cleared", "archive", "P2Y", "P10Y"),
    Policy("promise", "closed", "archive", "P2Y", "P10Y"),
    Policy("dispute", "closed", "archive", "P2Y", "P10Y"),
    Policy("dunning_letter", "sent", "purge", "P6Y", "P6Y"),
    Policy("email", "sent", "purge", "P6Y", "P6Y"),
    Policy("contact", "last_activity", "erase", "P3Y", "P0D"),
    Policy("customer_personal", "last_activity", "erase", "P3Y", "P0D"),
    Policy("activity", "closed", "purge", "P3Y", "P0D"),
    Policy("resubmission", "closed", "purge", "P3Y", "P0D"),
    Policy("agency_case", "closed", "archive", "P2Y", "P10Y"),
]


def current_policies(app: Any) -> dict[str, Policy]:
    return {p.record_class: p for p in _DEFAULTS}


def active_hold(app: Any, *, customer_id: UUID, dispute_id: UUID | None = None) -> str | None:
    return None


def _plus(day: date, period: str) -> date:
    match = re.fullmatch(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?", period)
    if not match:
        raise ValueError(period)
    years, months, days = (int(g or 0) for g in match.groups())
    month = day.month - 1 + months
    year = day.year + years + month // 12
    month = month % 12 + 1
    try:
        moved = day.replace(year=year, month=month)
    except ValueError:
        moved = day.replace(year=year, month=month, day=28)
    return moved + timedelta(days=days)


def retention_end(policies: dict[str, Policy], record_class: str,
                  trigger_on: date | None) -> date | None:
    policy = policies.get(record_class)
    if policy is None or trigger_on is None:
        return None
    return _plus(trigger_on, policy.retain)
