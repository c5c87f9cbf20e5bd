"""The retention policies in force, the streams whose action is due, and legal holds: what the
archive run, the purge and the erasure ask before they act.

A policy never set reads as the shipped default (``retention_defaults.toml``). Due dates come
from the ``retention_streams`` read model (each stream's record class, customer, disputes and trigger
date, each customer's last activity, the active holds): a stream is due on its trigger date
plus the policy's ``after``. Holds are excluded there, but an erasure must not race a hold
being placed, so ``active_hold`` reads the hold aggregates themselves.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import AggregateNotFoundError

from ledger_collect.domain.legal_hold import LegalHold
from ledger_collect.domain.retention_policy import (
    ACTIONS,
    ERASE,
    LAST_ACTIVITY,
    PER_CUSTOMER,
    POLICIES_ID,
    RECORD_CLASSES,
    Period,
    RetentionPolicies,
    check_policy,
)


@dataclass(frozen=True)
class Policy:
    record_class: str
    trigger: str
    action: str
    after: str
    retain: str

    def due_on(self, trigger_on: date | None) -> date | None:
        """The day the action is due, None while the trigger has not happened."""
        return None if trigger_on is None else Period.parse(self.after).after(trigger_on)


@dataclass(frozen=True)
class DueStream:
    stream_id: UUID
    record_class: str
    customer_id: UUID
    due_on: date


@cache
def default_policies() -> dict[str, Policy]:
    """The shipped defaults, checked as a policy set by hand would be."""
    text = resources.files("ledger_collect.compliance").joinpath(
        "retention_defaults.toml").read_text()
    found = tomllib.loads(text)
    missing = set(RECORD_CLASSES).difference(found)
    if missing:
        raise RuntimeError(f"retention_defaults.toml has no policy for {', '.join(missing)}")
    return {name: Policy(**check_policy(name, found[name]["trigger"], found[name]["action"],
                                        found[name]["after"], found[name]["retain"]))
            for name in RECORD_CLASSES}


def current_policies(app: Any) -> dict[str, Policy]:
    """Every record class's policy, by class: the one set last, else the default."""
    policies = dict(default_policies())
    try:
        setup = app.repository.get(POLICIES_ID)
    except AggregateNotFoundError:
        return policies
    assert isinstance(setup, RetentionPolicies)
    policies.update({name: Policy(**policy) for name, policy in setup.policies.items()})
    return policies


def retention_end(policies: dict[str, Policy], record_class: str,
                  trigger_on: date | None) -> date | None:
    """The last day the law requires a record kept (its trigger plus ``retain``), None while
    its trigger has not happened (kept for now, with no end in sight)."""
    if trigger_on is None:
        return None
    return Period.parse(policies[record_class].retain).after(trigger_on)


def active_hold(app: Any, *, customer_id: UUID, dispute_id: UUID | None = None) -> str | None:
    """The reference of an active legal hold on the customer, on ``dispute_id``, or (erasing
    the customer takes its disputes' notes too) on any dispute of the customer, else None."""
    subjects = [customer_id] if dispute_id is None else [customer_id, dispute_id]
    if dispute_id is None and app.database is not None:
        with app.database.connect() as conn:
            subjects += [row[0] for row in conn.execute(
                "SELECT stream_id FROM retention_streams WHERE customer_id = %s"
                " AND record_class = 'dispute'", (customer_id,))]
    holds = app.load_aggregates([LegalHold.create_id(subject) for subject in subjects])
    for subject in subjects:
        hold = holds.get(LegalHold.create_id(subject))
        if isinstance(hold, LegalHold) and hold.reference is not None:
            return hold.reference
    return None


def due_streams(conn: psycopg.Connection[Any], policies: dict[str, Policy], today: date,
                action: str, *, after: UUID | None = None,
                limit: int = 1000) -> list[DueStream]:
    """The streams whose ``action`` is due on ``today`` (due on that day or before), by stream
    id after ``after`` (keyset), at most ``limit``. Streams of a held customer, of a held
    dispute, invoices of a held dispute and promises on them are left out. For ``erase``: one
    row per customer due (``stream_id`` is the customer's id), held or erased ones left out."""
    if action not in ACTIONS:
        raise ValueError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    chosen = [p for p in policies.values() if p.action == action]
    if not chosen:
        return []
    if action == ERASE:
        return _due_customers(conn, chosen, today, after, limit)
    clauses, params = [], []
    for policy in chosen:
        column = "c.last_activity" if policy.trigger == LAST_ACTIVITY else "s.trigger_on"
        clauses.append(f"(s.record_class = %s AND {column} <= %s)")
        params += [policy.record_class, Period.parse(policy.after).latest_start(today)]
    activity = any(policy.trigger == LAST_ACTIVITY for policy in chosen)
    rows = conn.execute(
        f"WITH {_HELD} SELECT s.stream_id, s.record_class, s.customer_id, s.trigger_on,"
        f" {'c.last_activity' if activity else 'NULL::date'} FROM retention_streams s"
        f"{' JOIN retention_customers c USING (customer_id)' if activity else ''}"
        f" WHERE ({' OR '.join(clauses)}) AND s.stream_id > %s AND {_NOT_HELD}"
        " ORDER BY s.stream_id LIMIT %s", [*params, after or UUID(int=0), limit]).fetchall()
    # many streams share a start day: each policy's period is parsed, and each day's due
    # date computed, once per call
    periods = {policy.record_class: (policy.trigger == LAST_ACTIVITY, Period.parse(policy.after))
               for policy in chosen}
    due_dates: dict[tuple[str, date], date] = {}
    found = []
    for stream_id, record_class, customer_id, trigger_on, last_activity in rows:
        by_activity, period = periods[record_class]
        start = last_activity if by_activity else trigger_on
        due_on = due_dates.get((record_class, start))
        if due_on is None:
            due_on = due_dates[record_class, start] = period.after(start)
        found.append(DueStream(stream_id, record_class, customer_id, due_on))
    return found


#: Subjects under an active hold, customers and disputes alike.
_HELD = "held AS (SELECT array_agg(subject_id) AS ids FROM retention_holds" \
        " WHERE released_on IS NULL)"
_NOT_HELD = (
    "NOT EXISTS (SELECT 1 FROM held WHERE held.ids IS NOT NULL AND (s.customer_id = ANY(held.ids)"
    " OR s.dispute_ids && held.ids OR EXISTS (SELECT 1 FROM retention_streams i"
    " WHERE i.stream_id = s.invoice_id AND i.dispute_ids && held.ids)))")


def _due_customers(conn: psycopg.Connection[Any], chosen: list[Policy], today: date,
                   after: UUID | None, limit: int) -> list[DueStream]:
    """Customers whose personal data is due for erasure: ``customer_personal`` for every
    customer, ``contact`` for those with contact records; one row each, the first class that
    is due naming it. Customers whose key is erased already are done."""
    selects, params = [], []
    by_class = {policy.record_class: policy for policy in chosen}
    for rank, policy in enumerate(sorted(chosen, key=lambda p: p.record_class != "customer_"
                                         "personal")):
        if policy.record_class not in PER_CUSTOMER:
            continue
        has = ("" if policy.record_class == "customer_personal" else
               " AND EXISTS (SELECT 1 FROM retention_streams x WHERE x.customer_id ="
               " c.customer_id AND x.record_class = 'contact')")
        selects.append(
            f"SELECT c.customer_id, %s AS record_class, {rank} AS rank, c.last_activity"
            " FROM retention_customers c"
            f" WHERE c.last_activity <= %s AND c.customer_id > %s{has}")
        params += [policy.record_class, Period.parse(policy.after).latest_start(today),
                   after or UUID(int=0)]
    if not selects:
        return []
    rows = conn.execute(
        f"WITH {_HELD}, due AS ({' UNION ALL '.join(selects)})"
        " SELECT DISTINCT ON (customer_id) customer_id, record_class, last_activity FROM due"
        " WHERE NOT EXISTS (SELECT 1 FROM erased_subjects e WHERE e.subject_id = customer_id)"
        " AND NOT EXISTS (SELECT 1 FROM held WHERE customer_id = ANY(held.ids) OR EXISTS ("
        "  SELECT 1 FROM retention_streams d WHERE d.customer_id = due.customer_id"
        "  AND d.record_class = 'dispute' AND d.stream_id = ANY(held.ids)))"
        " ORDER BY customer_id, rank LIMIT %s", [*params, limit]).fetchall()
    return [DueStream(customer_id, record_class, customer_id,
                      Period.parse(by_class[record_class].after).after(last_activity))
            for customer_id, record_class, last_activity in rows]
