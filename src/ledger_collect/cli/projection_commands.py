"""``ledger-collect projections`` and ``ledger-collect projector``: the read models, rebuilt,
inspected and kept in step with the event log."""

from __future__ import annotations

import sys
import threading

import click

from ledger_collect.app import open_collections
from ledger_collect.config import Settings


@click.group()
def projections() -> None:
    """Read models: rebuild them from the event log, see where they stand."""


@projections.command("rebuild")
@click.argument("name", required=False)
def projections_rebuild(name: str | None) -> None:
    """Rebuild NAME (every read model when omitted); readers keep the old tables until the swap."""
    from ledger_collect.projections import UnknownProjectionError, select
    from ledger_collect.projections.engine import ProjectionError, rebuild

    try:
        models = select(name)
    except UnknownProjectionError as exc:
        raise click.ClickException(str(exc)) from None
    with open_collections(Settings.from_env()) as app:
        for model in models:
            with click.progressbar(length=1, label=f"rebuilding {model.name}",
                                   file=sys.stderr) as bar:
                def progress(done: int, total: int) -> None:
                    bar.length = max(total, 1)
                    bar.update(done - bar.pos)

                try:
                    reached = rebuild(app, model.name, progress=progress)[model.name]
                except ProjectionError as exc:
                    raise click.ClickException(str(exc)) from None
            click.echo(f"{model.name}: rebuilt up to notification {reached}")


@projections.command("status")
def projections_status() -> None:
    """Each read model's position in the event log, how far behind it is, and why a failing
    one stopped."""
    from ledger_collect.projections.status import status

    with open_collections(Settings.from_env()) as app:
        rows = status(app)
    click.echo(f"{'read model':<16} {'position':>10} {'head':>10} {'lag':>8}  state")
    for row in rows:
        click.echo(f"{row.name:<16} {row.position:>10} {row.head:>10} {row.lag:>8}  {row.state}")
        if row.failure is not None:
            at = (f"at notification {row.failed_notification}"
                  if row.failed_notification is not None else "before reading an event")
            click.echo(f"  failed {at}, {row.attempts} attempt(s), the last at "
                       f"{row.failed_at:%Y-%m-%d %H:%M:%S %Z}: {row.error}")


@click.command()
@click.argument("names", nargs=-1)
def projector(names: tuple[str, ...]) -> None:
    """Keep read models (all, or NAMES) in step with the event log until stopped; a model
    that fails is retried on its own, a lost database waited for."""
    from ledger_collect.projections.follower import follow

    with open_collections(Settings.from_env()) as app:
        try:
            follow(app, threading.Event(), list(names) or None)
        except KeyboardInterrupt:
            pass
