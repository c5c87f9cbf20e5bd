"""``ledger-collect compliance run`` and ``ledger-collect archive run`` (a command of the
``archive`` group): the retention policies applied by hand, as the nightly job applies them (``jobs.compliance_job``), with progress.

Either may be run again for the same date: nothing is done twice, and a run killed half-way is
finished by the next.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from datetime import date

import click

from ledger_collect.app import open_collections
from ledger_collect.config import Settings

_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _date(value: object) -> date:
    return value.date() if value is not None else date.today()  # type: ignore[attr-defined]


def _progress(what: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        if sys.stderr.isatty() or done == total:
            click.echo(f"\r{what}: {done}/{total}", err=True, nl=done == total)
    return show


def _summary(title: str, counts: Mapping[str, int]) -> None:
    click.echo(title)
    for name, count in counts.items():
        click.echo(f"  {name}: {count}")


@click.group()
def compliance() -> None:
    """Retention: the policies applied for a business date."""


@compliance.command("run")
@click.option("--date", "day", type=_DAY, help="The business date [today].")
def compliance_run(day: object) -> None:
    """Archive, purge, erase and expire what the policies make due on that date."""
    from ledger_collect.jobs.compliance_job import run_compliance

    on = _date(day)
    with open_collections(Settings.from_env()) as app:
        counts = run_compliance(app, business_date=on, progress=_progress("streams"))
    _summary(f"compliance run for {on.isoformat()}", counts)


@click.command("run")
@click.option("--date", "day", type=_DAY, help="The business date [today].")
def archive_run(day: object) -> None:
    """Archive the streams due on that date, verify the segments, purge them from the store."""
    from ledger_collect.compliance import archiver

    on = _date(day)
    with open_collections(Settings.from_env()) as app:
        counts = archiver.archive_run(app, business_date=on, progress=_progress("streams"))
    _summary(f"archive run for {on.isoformat()}", counts)
