"""The ``ledger-collect`` command: migrate, import an ERP feed, generate one, run the demo.

Thin on purpose: the work is in ``ledger_collect.feed`` and the other packages, what a command
works on is opened by the composition root (``ledger_collect.app``); this module turns arguments
into calls, progress into a bar, and expected failures into one clear line
(``click.ClickException``, see ``Commands``) instead of a traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import date, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import click
import psycopg
from eventsourcing.persistence import PersistenceError

from ledger_collect.api.auth import issue_token
from ledger_collect.api.permissions import Role
from ledger_collect.app import master_key, open_collections, open_database
from ledger_collect.cli import projection_commands as cli_projections
from ledger_collect.cli.agency_handover import agency
from ledger_collect.cli.archive_commands import archive
from ledger_collect.cli.compliance_commands import archive_run, compliance
from ledger_collect.cli.dunning_runs import dunning
from ledger_collect.cli.erasure_cli import erase
from ledger_collect.cli.import_commands import import_feed, report
from ledger_collect.cli.retention_cli import retention
from ledger_collect.cli.worker_commands import jobs, scheduler, worker
from ledger_collect.cli.worklist_commands import worklist
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import assign_customers
from ledger_collect.config import Settings
from ledger_collect.domain.base import DomainError
from ledger_collect.domain.customer import Customer
from ledger_collect.feed import FeedFormatError, Importer
from ledger_collect.feed.demo import demo_records
from ledger_collect.feed.files import detect_format, write_feed
from ledger_collect.feed.portfolio import has_customers, portfolio
from ledger_collect.feed.records import parse_record
from ledger_collect.storage.database import MigrationError, redact
from ledger_collect.storage.outage import first_line
from ledger_collect.storage.personal_data import MasterKeyError

DEMO_CUSTOMERS = 200
#: Job worker threads ``serve`` runs beside the API.
SERVE_JOB_THREADS = 2
DEMO_SEED = 42
_DAY = click.DateTime(formats=["%Y-%m-%d"])


class Commands(click.Group):
    """The command group: an expected failure of any command ends it with one line instead of
    a traceback: the store unreachable, its migrations not the code's, the master key wrong,
    the embedded server not starting, a command the domain refused."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (psycopg.OperationalError, PersistenceError) as exc:
            url = Settings.from_env().database_url
            where = redact(url) if url else "the embedded database"
            raise click.ClickException(f"cannot reach {where}: {first_line(exc)}") from None
        except (MigrationError, MasterKeyError, DomainError) as exc:
            raise click.ClickException(str(exc)) from None
        except RuntimeError as exc:  # the embedded server could not start
            if type(exc).__name__ != "EmbeddedPostgresError":
                raise
            raise click.ClickException(str(exc)) from None


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ledger-collect")
def cli() -> None:
    """Accounts-receivable collections on an event-sourced PostgreSQL store.

    With no LEDGER_DATABASE_URL, an embedded PostgreSQL is started in LEDGER_DATA_DIR.
    """


@cli.command()
def migrate() -> None:
    """Apply the pending database migrations, in order."""
    with open_database(Settings.from_env(), migrate=False) as database:
        applied = database.migrate(on_applied=lambda m: click.echo(f"applied {m.name}"))
        if not applied:
            click.echo("nothing to apply: the database is up to date")


@cli.command("demo-data")
@click.option("--customers", type=click.IntRange(min=1), default=DEMO_CUSTOMERS,
              show_default=True)
@click.option("--seed", type=int, default=DEMO_SEED, show_default=True)
@click.option("--as-of", type=_DAY, help="The day the portfolio is seen from [today].")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="File to write (*.jsonl or *.csv) [standard output, JSON Lines].")
def demo_data(customers: int, seed: int, as_of: object, output: Path | None) -> None:
    """Write a realistic ERP feed: ~15 records per customer over 18 months."""
    day = _day(as_of)
    records = demo_records(customers, seed, day)
    if output is None:
        count = write_feed(records, sys.stdout, "jsonl")
    else:
        try:
            fmt = detect_format(output)
        except FeedFormatError as exc:
            raise click.ClickException(str(exc)) from None
        with output.open("w", encoding="utf-8", newline="") as out:
            count = write_feed(records, out, fmt)
    click.echo(f"wrote {count} records for {customers} customers as of {day}", err=True)


@cli.command()
@click.option("--customers", type=click.IntRange(min=1), default=DEMO_CUSTOMERS,
              show_default=True, help="Size of the demo portfolio (first run only).")
@click.option("--seed", type=int, default=DEMO_SEED, show_default=True)
def demo(customers: int, seed: int) -> None:
    """Load a demo portfolio on first run, then print what the store holds."""
    settings = Settings.from_env()
    today = date.today()
    with open_collections(settings, migrate=True) as app:
        assert app.database is not None
        where = (f"embedded PostgreSQL in {settings.data_dir}" if app.database.embedded
                 else redact(app.database.url))
        click.echo(f"database: {where} (schema {settings.schema})")
        _load_demo(app, customers, seed, today)
        for line in portfolio(app, today).lines():
            click.echo(line)


def _load_demo(app: Collections, customers: int, seed: int, today: date) -> None:
    """Import a generated demo portfolio unless the store already holds customers."""
    if has_customers(app):
        click.echo("the demo portfolio is already loaded")
        return
    click.echo(f"loading a demo portfolio of {customers} customers (seed {seed})")
    generated = list(demo_records(customers, seed, today))
    records = [parse_record(raw, n) for n, raw in enumerate(generated, start=1)]
    with click.progressbar(length=len(records), label="importing", file=sys.stderr) as bar:
        result = Importer(app, today=today).run(records, progress=bar.update)
    report(result, "demo")
    _assign_demo_specialists(app, generated, today)


DEMO_SPECIALISTS = ("alice", "bruno", "chloe")


def _assign_demo_specialists(app: Collections, generated: list[dict[str, object]],
                             today: date) -> None:
    """Give each segment's customers to the demo specialists in turn, leaving every fifth
    unassigned, so that worklists (and the unassigned list) have something to show."""
    numbers = [str(raw["number"]) for raw in generated if raw.get("kind") == "customer"]
    shares = {Customer.create_id(number): DEMO_SPECIALISTS[n % len(DEMO_SPECIALISTS)]
              for n, number in enumerate(numbers) if n % 5 != 4}
    app.run(assign_customers, shares, actor="demo", business_date=today)
    click.echo(f"assigned the demo customers to {', '.join(DEMO_SPECIALISTS)} "
               f"(every fifth left unassigned)")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--demo-customers", type=click.IntRange(min=0), default=DEMO_CUSTOMERS,
              show_default=True, help="Demo portfolio loaded on first run (0: none).")
@click.option("--development/--production", default=None,
              help="Serve GraphiQL and print a development token (default: LEDGER_DEVELOPMENT, "
                   "else on with the embedded database).")
def serve(host: str, port: int, demo_customers: int, development: bool | None) -> None:
    """All in one process: database, migrations, read models following, GraphQL API, a job
    worker and the scheduler."""
    from ledger_collect.app import serve_api
    from ledger_collect.jobs.actors import close_job_actors
    from ledger_collect.jobs.scheduler import Scheduler
    from ledger_collect.jobs.worker import working
    from ledger_collect.projections.engine import ProjectionError, catch_up
    from ledger_collect.projections.follower import follow

    settings = Settings.from_env()
    if development is None:  # the flag, else LEDGER_DEVELOPMENT, else on with the embedded one
        development = (settings.database_url is None if settings.development is None
                       else settings.development)
    settings = settings.with_changes(development=development)
    today = date.today()
    with open_collections(settings) as app:
        assert app.database is not None
        if demo_customers:
            _load_demo(app, demo_customers, DEMO_SEED, today)
        with click.progressbar(length=1, label="read models", file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            try:
                catch_up(app, progress=progress)
            except ProjectionError as exc:  # a model failing: serve all the same
                click.echo(f"warning: {exc}; the projector tries it again "
                           f"(ledger-collect projections status)", err=True)
        stop = threading.Event()
        projector = threading.Thread(target=follow, args=(app, stop), name="projector",
                                     daemon=True)
        projector.start()
        scheduler = threading.Thread(target=Scheduler(app).run, args=(stop,), name="scheduler",
                                     daemon=True)
        try:
            url = f"http://{host}:{port}/graphql"
            click.echo(f"GraphQL API: {url}" + ("  (GraphiQL: open it in a browser)"
                                                if development else ""))
            if development:
                _print_development_token(settings)
            with app.database.supervised(), working(app, threads=SERVE_JOB_THREADS):
                scheduler.start()
                serve_api(settings, host, port, database=app.database)
        finally:
            stop.set()
            projector.join(timeout=10)
            if scheduler.is_alive():
                scheduler.join(timeout=30)
            close_job_actors()


def _print_development_token(settings: Settings) -> None:
    """A token for the demo's first specialist, with every right: the README's worklist example
    (the viewer's own list) shows her demo customers, and every query and mutation is allowed."""
    user = DEMO_SPECIALISTS[0]
    click.echo(f"development token (user {user}, a demo specialist, with role admin; valid 8 "
               f"hours), send it as 'Authorization: Bearer <token>':")
    click.echo(issue_token(settings, user, Role.ADMIN))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes serving the port (about one per core).")
def api(host: str, port: int, workers: int) -> None:
    """The GraphQL API alone (production: run `projector` as its own process beside it)."""
    from ledger_collect.app import serve_api

    settings = Settings.from_env()
    with open_database(settings) as database:
        master_key(settings, database)  # checked before serving: one line, not a failed start
        with database.supervised():
            serve_api(settings, host, port, database=database, workers=workers)


@cli.group()
def promises() -> None:
    """Promises to pay: the daily valuation."""


@promises.command("value")
@click.option("--as-of", type=_DAY, help="Value the promises whose window ended before this "
                                         "day [today].")
def promises_value(as_of: object) -> None:
    """Value every open promise whose window is over: kept, partially kept or broken."""
    day = _day(as_of)
    if day > date.today():
        raise click.ClickException(f"--as-of {day} is a day still to come")
    from ledger_collect.commands.valuation import daily_valuation

    with open_collections(Settings.from_env()) as app:
        valued = daily_valuation(app, as_of=day, business_date=date.today()).values()
    summary = ", ".join(f"{status.replace('_', ' ')}: {list(valued).count(status)}"
                        for status in sorted(set(valued)))
    click.echo(f"promises valued as of {day}: {len(valued)}" + (f" ({summary})" if summary
                                                               else ""))


@cli.command()
@click.argument("user")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.SPECIALIST.value,
              show_default=True)
@click.option("--segment", "segments", multiple=True,
              help="A collection segment the user works in (repeatable).")
@click.option("--hours", type=click.FloatRange(min=0.01), default=8.0, show_default=True,
              help="How long the token is valid.")
def token(user: str, role: str, segments: tuple[str, ...], hours: float) -> None:
    """Print a signed bearer token for USER (local use and tests)."""
    try:
        click.echo(issue_token(Settings.from_env(), user, role, segments,
                               timedelta(hours=hours)))
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None


cli.add_command(import_feed)
cli.add_command(cli_projections.projections)
cli.add_command(cli_projections.projector)
cli.add_command(worklist)
cli.add_command(worker)
cli.add_command(scheduler)
cli.add_command(jobs)
cli.add_command(dunning)
cli.add_command(agency)
cli.add_command(compliance)
cli.add_command(archive)
archive.add_command(archive_run)
cli.add_command(erase)
cli.add_command(retention)


def _day(value: object) -> date:
    return value.date() if value is not None else date.today()  # type: ignore[attr-defined]


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM exits like Ctrl-C does: through ``finally`` blocks, so an embedded PostgreSQL
    is stopped rather than orphaned."""
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="ledger-collect")


if __name__ == "__main__":
    main()
