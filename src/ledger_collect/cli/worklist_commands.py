"""``ledger-collect worklist``: the worklist's rankings, built outside any query, and the day's
lists generated (spread over each segment's team) as the morning job generates them.

The projector ranks its business date by itself; ``build`` is the same work as a command a job
can run, e.g. to rank tomorrow before the day turns, or today when no projector runs.
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


@worklist.command("generate")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The day to generate the lists of: today (the default) or a day ahead.")
@click.option("--force", is_flag=True,
              help="A new version of each list that differs, even on the same strategy and "
                   "team (picks up customers and assignments changed since).")
def generate(day: object, force: bool) -> None:
    """Generate every segment's worklist of the day: ranked by its strategy, spread over the
    specialists present. A segment whose strategy and team are as they were is left alone."""
    from ledger_collect.jobs.worklists import generate_worklists

    today = date.today()
    with open_collections(Settings.from_env()) as app:
        counts = generate_worklists(app, business_date=today, force=force,
                                    day=day.date() if day else None)  # type: ignore[attr-defined]
    click.echo(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in counts.items()))
    if counts["unstaffed"]:
        click.echo(f"{counts['unplaced']} customers in {counts['unstaffed']} segments are placed "
                   f"with nobody: no specialist of their team is present", err=True)
