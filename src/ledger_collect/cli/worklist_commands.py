"""``ledger-collect worklist``: the worklist's rankings, built outside any query.

The projector ranks its business date by itself; this is the same work as a command a job can
run, e.g. to rank tomorrow before the day turns, or today when no projector runs.
"""

from __future__ import annotations

from datetime import date

import click

from ledger_collect.app import open_collections
from ledger_collect.config import Settings


@click.group()
def worklist() -> None:
    """The worklist: rank a day's lists ahead of the readers."""


@worklist.command("build")
@click.option("--date", "days", type=click.DateTime(formats=["%Y-%m-%d"]), multiple=True,
              help="A day to rank, today or later (repeatable; today is always ranked).")
def build(days: tuple[object, ...]) -> None:
    """Rank today (and each --date) with the active strategies, unless done already; drop
    the rankings of past days and of strategies no longer active."""
    from ledger_collect.projections.engine import ProjectionError
    from ledger_collect.projections.worklist.day_rankings import build_rankings

    today = date.today()
    wanted = [day.date() for day in days]  # type: ignore[attr-defined]
    with open_collections(Settings.from_env()) as app:
        try:
            ranked = build_rankings(app, wanted, today=today)
        except (ValueError, ProjectionError) as exc:  # a past day, a stale model
            raise click.ClickException(str(exc)) from None
    for day in sorted({today, *wanted}):
        done = "ranked" if day in ranked else "already ranked"
        click.echo(f"worklist of {day.isoformat()}: {done}")
