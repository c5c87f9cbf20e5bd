"""Collection strategy versions as stored in ``collection_strategies`` (migration 0004):
published (a new version, made active for its segment), activated again (a roll-back), and read.

A version is never changed once written: a change of rules is a new version, so a ranking can
always be explained again with the rules it was made with. One version is active per segment,
one default (segment NULL) for the segments without their own. Writers use psycopg (the caller's
connection, on the app's schema); the API's readers use an asyncpg pool.

A change of the active versions is announced on ``STRATEGIES_CHANGED`` when it commits, so that
the projector ranks the day with the new versions at once instead of at its next round.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ledger_collect.commands import values
from ledger_collect.domain.base import ValidationError
from ledger_collect.projections.worklist.strategy_rules import (
    Strategy,
    StrategyError,
    StrategySet,
    UnknownStrategyError,
    parse_rules,
)

#: NOTIFY channel of a change of the active strategies (payload: the schema).
STRATEGIES_CHANGED = "ledger_collect_strategies"

_COLUMNS = ("code, version, segment, description, definition, active, created_by, "
            "created_at")


def from_row(row: Mapping[str, Any]) -> Strategy:
    definition = row["definition"]
    if isinstance(definition, str):  # asyncpg hands jsonb over as text
        # The API reads the active strategies for every worklist page: the same row, made
        # into the same (frozen) Strategy once, not parsed again each time.
        return _from_text(*(row[name] for name in _NAMES))
    return _strategy(row, definition)


_NAMES = tuple(name.strip() for name in _COLUMNS.split(","))


@lru_cache(maxsize=256)
def _from_text(*values: Any) -> Strategy:
    row = dict(zip(_NAMES, values, strict=True))
    return _strategy(row, json.loads(row["definition"]))


def _strategy(row: Mapping[str, Any], definition: Any) -> Strategy:
    notice, recent, rules = parse_rules(definition)
    return Strategy(code=row["code"], version=row["version"], segment=row["segment"],
                    rules=rules, dunning_notice_days=notice, recent_days=recent,
                    description=row["description"], active=row["active"],
                    created_by=row["created_by"], created_at=row["created_at"])


def _check_code(code: str) -> str:
    code = (code or "").strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", code):
        raise StrategyError(f"a strategy code is lower-case letters, digits, - and _ "
                            f"(e.g. key-accounts), got {code!r}")
    return code


def publish(conn: Any, *, code: str, definition: Mapping[str, Any], segment: str | None = None,
            description: str = "", actor: str, activate: bool = True,
            limits: values.Limits = values.DEFAULT_LIMITS) -> Strategy:
    """Store a new version of strategy ``code`` (version 1 if it is new) and, by default, make
    it the active one for its segment (``None``: the default strategy), retiring the version
    it replaces. Earlier versions stay readable. ``conn``: a psycopg connection on the schema."""
    notice, recent, rules = parse_rules(definition)
    try:  # the rules every command's arguments meet: no control characters, sane lengths
        values.code(code, "code", limits)
        if segment is not None:
            values.code(segment, "segment", limits)
        values.text(description, "description", limits)
        values.code(actor, "actor", limits)
        for rule in rules:
            values.name(rule.name, "rule name", limits)
    except ValidationError as error:
        raise StrategyError(str(error)) from None
    code = _check_code(code)
    segment = segment.strip() if segment is not None else None
    if segment == "":
        raise StrategyError("name the segment, or give none for the default strategy")
    stored = Strategy(code, 0, segment, rules, notice, recent).definition()
    with conn.transaction():
        conn.execute("LOCK TABLE collection_strategies IN SHARE ROW EXCLUSIVE MODE")
        row = conn.execute("SELECT max(version), min(segment), bool_or(segment IS NULL)"
                           " FROM collection_strategies WHERE code = %s", (code,)).fetchone()
        latest, other_segment, was_default = row
        if latest is not None and (other_segment != segment or bool(was_default) != (
                segment is None)):
            ranks = "the default" if was_default else f"segment {other_segment}"
            raise StrategyError(f"strategy {code} ranks {ranks}; publish a strategy with "
                                f"another code for {segment or 'the default'}")
        if activate:
            conn.execute("UPDATE collection_strategies SET active = false WHERE active AND"
                         " (code = %s OR segment IS NOT DISTINCT FROM %s)", (code, segment))
        conn.execute(
            "INSERT INTO collection_strategies (code, version, segment, description,"
            " definition, active, created_by) VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s)",
            (code, (latest or 0) + 1, segment, description.strip(), json.dumps(stored),
             activate, actor))
        if activate:
            _announce(conn)
        return _fetch_one(conn, code, (latest or 0) + 1)


def activate(conn: Any, code: str, version: int) -> Strategy:
    """Make an existing version the active one of its segment again (e.g. to roll back)."""
    with conn.transaction():
        conn.execute("LOCK TABLE collection_strategies IN SHARE ROW EXCLUSIVE MODE")
        found = _fetch_one(conn, code, version)
        conn.execute("UPDATE collection_strategies SET active = false WHERE active AND"
                     " (code = %s OR segment IS NOT DISTINCT FROM %s)", (code, found.segment))
        conn.execute("UPDATE collection_strategies SET active = true WHERE code = %s"
                     " AND version = %s", (code, version))
        _announce(conn)
        return _fetch_one(conn, code, version)


def _announce(conn: Any) -> None:
    """Tell the projector, when the transaction commits, that the active strategies changed."""
    conn.execute("SELECT pg_notify(%s, current_schema())", (STRATEGIES_CHANGED,))


def _fetch_one(conn: Any, code: str, version: int) -> Strategy:
    cursor = conn.execute(f"SELECT {_COLUMNS} FROM collection_strategies WHERE code = %s"
                          " AND version = %s", (code, version))
    row = cursor.fetchone()
    if row is None:
        raise UnknownStrategyError(f"there is no version {version} of strategy {code}")
    return from_row(dict(zip([c.name for c in cursor.description], row, strict=True)))


def strategy_set(conn: Any, key: str,
                 known: dict[tuple[str, int], Strategy] | None = None) -> StrategySet:
    """The set a ``StrategySet.key`` names, read with psycopg (``known``: versions already
    read, by (code, version); versions never change, so they can be kept)."""
    known = {} if known is None else known
    found: dict[str, Strategy] = {}
    for segment, code, version in json.loads(key):
        if (code, version) not in known:
            known[(code, version)] = _fetch_one(conn, code, version)
        found[segment] = known[(code, version)]
    default = found.pop("")
    return StrategySet(default, found)


def active_strategy_set(conn: Any,
                        known: dict[tuple[str, int], Strategy] | None = None) -> StrategySet:
    """The active strategies, as ``active_strategies`` reads them for the API, read with
    psycopg (the projector's and the jobs' ranking of the day)."""
    rows = conn.execute("SELECT coalesce(segment, ''), code, version FROM collection_strategies"
                        " WHERE active ORDER BY 1, 2").fetchall()
    if not any(segment == "" for segment, _, _ in rows):
        raise UnknownStrategyError("no default collection strategy is active; publish one")
    return strategy_set(conn, json.dumps([list(row) for row in rows]), known)


# -- async readers (asyncpg; the pool's search_path is the app's schema) -----------------------
async def active_strategies(pool: Any) -> StrategySet:
    """The active strategy of each segment that has one, and the default."""
    rows = await pool.fetch(f"SELECT {_COLUMNS} FROM collection_strategies WHERE active")
    found = [from_row(row) for row in rows]
    defaults = [s for s in found if s.segment is None]
    if not defaults:
        raise UnknownStrategyError("no default collection strategy is active; publish one")
    return StrategySet(defaults[0], {s.segment: s for s in found if s.segment is not None})


async def strategy_versions(pool: Any, code: str | None = None) -> list[Strategy]:
    """Every stored version (of one code, or of all), by code then newest first."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM collection_strategies WHERE $1::text IS NULL OR code = $1"
        " ORDER BY code, version DESC", code)
    return [from_row(row) for row in rows]


async def strategy_version(pool: Any, code: str, version: int) -> Strategy:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM collection_strategies WHERE code = $1"
                              " AND version = $2", code, version)
    if row is None:
        raise UnknownStrategyError(f"there is no version {version} of strategy {code}")
    return from_row(row)
