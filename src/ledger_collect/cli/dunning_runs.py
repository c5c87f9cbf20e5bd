"""``ledger-collect dunning``: the day's proposal, and the run that issues its letters.

``propose`` only reads (what a supervisor checks before the run); ``run`` issues the letters,
as the scheduled job does, and may be run again the same day: it issues nothing twice.
"""

from __future__ import annotations

import sys
from datetime import date

import click

from ledger_collect.app import open_collections
from ledger_collect.config import Settings

_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def dunning() -> None:
    """Dunning: the letters of a business date."""


@dunning.command("propose")
@click.option("--date", "day", type=_DAY, help="The business date [today].")
@click.option("--segment", help="Only this segment's customers.")
def propose_letters(day: object, segment: str | None) -> None:
    """List the letters a run on that date would issue (nothing is recorded)."""
    from ledger_collect.jobs.dunning_jobs import READS
    from ledger_collect.projections.dunning_proposal import propose
    from ledger_collect.projections.engine import catch_up

    on = _date(day)
    with open_collections(Settings.from_env()) as app:
        catch_up(app, READS)
        assert app.database is not None
        with app.database.connect() as conn:
            proposal = propose(conn, on, segment)
    click.echo("customer\tkind\tlevel\tcurrency\tamount\tfee\tinterest\ttotal\titems\taddress")
    for proposed in proposal.letters:
        letter = proposed.letter
        click.echo("\t".join(map(str, (
            proposed.customer_number, letter.kind, letter.level, letter.currency, letter.amount,
            letter.fee, letter.interest, letter.total,
            " ".join(line.document_number for line in letter.lines),
            "yes" if proposed.has_address else "none"))))
    click.echo(f"{len(proposal.letters)} letters for {on.isoformat()}"
               f"{f' (segment {segment})' if segment else ''}: {proposal.customers} customers "
               f"with items to dun, {proposal.quiet} in their quiet days, "
               f"{proposal.no_procedure} without a procedure, {proposal.no_address} letters "
               f"without an address", err=True)


@dunning.command("run")
@click.option("--date", "day", type=_DAY, help="The business date [today].")
def run_letters(day: object) -> None:
    """Issue the letters of that date, each a collection email (once, however often run)."""
    from ledger_collect.jobs.dunning_jobs import run_dunning

    on = _date(day)
    with open_collections(Settings.from_env()) as app, click.progressbar(
            length=1, label="issuing letters", file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(1, total)
            bar.update(done - bar.pos)

        counts = run_dunning(app, business_date=on, progress=progress)
    click.echo(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in counts.items()))


def _date(value: object) -> date:
    return value.date() if value is not None else date.today()  # type: ignore[attr-defined]
