"""The ``ledger-collect`` command: demo data, migrate, import, the demo end to end, and the
one-line errors a user meets (no file, unknown format, no database, no master key)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger_collect.cli import cli
from ledger_collect.config import Settings
from ledger_collect.domain.customer import Customer
from ledger_collect.feed.portfolio import BUCKETS


def env_of(settings: Settings, **extra: str | None) -> dict[str, str | None]:
    return {"LEDGER_DATABASE_URL": settings.database_url, "LEDGER_SCHEMA": settings.schema,
            "LEDGER_MASTER_KEY": settings.master_key, "LEDGER_DATA_DIR": str(settings.data_dir),
            "LEDGER_MASTER_KEY_FILE": None, **extra}


def invoke(settings: Settings, *args: str, **extra: str | None):
    return CliRunner().invoke(cli, list(args), env=env_of(settings, **extra))


def cli_process(settings: Settings, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in {**os.environ, **env_of(settings)}.items() if v is not None}
    return subprocess.Popen([sys.executable, "-m", "ledger_collect.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# -- demo-data ------------------------------------------------------------------------------------
def test_demo_data_is_the_same_bytes_for_the_same_seed_and_date(tmp_path):
    runner = CliRunner()
    args = ["demo-data", "--customers", "30", "--seed", "7", "--as-of", "2026-11-23"]
    first = runner.invoke(cli, args)
    second = runner.invoke(cli, args)
    other_seed = runner.invoke(cli, [*args[:4], "8", *args[5:]])
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    assert first.stdout != other_seed.stdout
    records = [json.loads(line) for line in first.stdout.splitlines()]
    assert sum(r["kind"] == "customer" for r in records) == 30
    for name in ("a.csv", "b.csv"):
        assert runner.invoke(cli, [*args, "--output", str(tmp_path / name)]).exit_code == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_text().count("\n") == len(records) + 1  # + header


def test_demo_data_refuses_an_output_of_unknown_format(tmp_path):
    result = CliRunner().invoke(cli, ["demo-data", "--output", str(tmp_path / "feed.xml")])
    assert result.exit_code == 1
    assert "unknown format '.xml'" in result.output


# -- migrate and import ----------------------------------------------------------------------------
def test_migrate_prints_what_it_applied_and_then_that_nothing_is_left(settings):
    first = invoke(settings, "migrate")
    assert first.exit_code == 0, first.output
    assert "applied 0001_event_store.sql" in first.output
    again = invoke(settings, "migrate")
    assert again.exit_code == 0 and "nothing to apply" in again.output


def test_import_refuses_an_unmigrated_database_with_the_command_to_run(settings, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text("")
    result = invoke(settings, "import", str(feed))
    assert result.exit_code == 1
    assert "run `ledger-collect migrate` first" in result.output


def test_import_prints_bad_lines_and_a_summary_and_exits_1(database, settings, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        '{"kind":"customer","source_id":"S1","number":"C1","name":"Acme","segment":"S",'
        '"risk_class":"A","credit_limit":"0","currency":"EUR"}\n'
        '{"kind":"invoice","source_id":"I1","customer":"C2","document_number":"I1",'
        '"amount":"10.00","currency":"EUR","posting_date":"2026-01-01","due_date":"2026-02-01"}\n'
        "not json\n")
    result = invoke(settings, "import", str(feed))
    assert result.exit_code == 1
    assert f"{feed}:2: customer C2 does not exist" in result.stderr
    assert f"{feed}:3: malformed JSON" in result.stderr
    assert "records read: 3, applied: 1, already present: 0, rejected: 2" in result.stdout
    strict = invoke(settings, "import", "--strict", str(feed))
    assert strict.exit_code == 1
    assert "nothing was saved" in strict.stdout
    assert "records read: 3, applied: 0, already present: 1, rejected: 2" in strict.stdout


def test_the_example_feed_imports_with_exit_code_0(database, settings):
    example = Path(__file__).resolve().parent.parent / "examples" / "erp-feed.csv"
    result = invoke(settings, "import", str(example), "--batch-size", "4")
    assert result.exit_code == 0, result.output
    assert "records read: 17, applied: 17, already present: 0, rejected: 0" in result.stdout


# -- one-line errors -------------------------------------------------------------------------------
def test_a_missing_file_and_an_unknown_format_are_one_line_errors(settings, tmp_path):
    missing = invoke(settings, "import", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 1 and missing.output.strip() == (
        f"Error: {tmp_path / 'nope.jsonl'}: no such file")
    odd = tmp_path / "feed.txt"
    odd.write_text("x")
    unknown = invoke(settings, "import", str(odd))
    assert unknown.exit_code == 1
    assert unknown.output.startswith("Error: feed.txt: unknown format '.txt'")


def test_an_unreachable_database_is_named_without_its_password(settings, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text("")
    url = "postgresql://ledger:s3cret@127.0.0.1:1/ledger"
    result = invoke(settings, "import", str(feed), LEDGER_DATABASE_URL=url)
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach ")
    assert "127.0.0.1" in result.output and "port=1" in result.output
    assert "s3cret" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_missing_master_key_is_a_one_line_error(database, settings, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text("")
    result = invoke(settings, "import", str(feed), LEDGER_MASTER_KEY=None)
    assert result.exit_code == 1
    assert result.output.startswith("Error: no master key: set LEDGER_MASTER_KEY")


@pytest.mark.parametrize("key", ["not base64!", "abc", "c2VjcmV0IGtleQ==#"])
@pytest.mark.parametrize("command", ["import", "api"])
def test_a_master_key_that_is_not_base64_is_a_one_line_error(database, settings, tmp_path,
                                                               key, command):
    feed = tmp_path / "feed.jsonl"
    feed.write_text("")
    args = ["import", str(feed)] if command == "import" else ["api", "--port", "1"]
    result = invoke(settings, *args, LEDGER_MASTER_KEY=key)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: LEDGER_MASTER_KEY is not base64: the master key is "
                                    "32 bytes in base64"), result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_key_file_that_is_not_base64_is_named_in_a_one_line_error(database, settings,
                                                                   tmp_path):
    key_file = tmp_path / "master.key"
    key_file.write_text("this is no key\n")
    result = invoke(settings, "projections", "status", LEDGER_MASTER_KEY=None,
                    LEDGER_MASTER_KEY_FILE=str(key_file))
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        f"Error: the master key file {key_file} is not base64: the master key is 32 bytes in "
        "base64 (e.g. `openssl rand -base64 32`)")


# -- the demo, end to end, in a real process ----------------------------------------------------------
@pytest.mark.slow
def test_demo_loads_a_portfolio_once_and_prints_its_summary(app, settings):
    out, err = cli_process(settings, "demo", "--customers", "40").communicate(timeout=120)
    assert "loading a demo portfolio of 40 customers" in out, err
    assert "rejected: 0" in out
    assert "customers: 40 " in out
    currency = app.repository.get(Customer.create_id("C000001")).currency
    assert "aging as of " in out and ", ".join(BUCKETS) in out
    row = next(line for line in out.splitlines() if line.startswith(f"  {currency}: "))
    cells = row.split(": ", 1)[1].split(" | ")
    assert len(cells) == 6 and all(cell != "0.00" for cell in cells), row
    # Customers are shared out to the demo specialists, every fifth left unassigned.
    assert "assigned the demo customers to alice, bruno, chloe" in out
    from ledger_collect.feed.demo import demo_records
    numbers = [r["number"] for r in demo_records(40, 42, date.today()) if r["kind"] == "customer"]
    specialists = [app.repository.get(Customer.create_id(n)).specialist for n in numbers[:6]]
    assert specialists == ["alice", "bruno", "chloe", "alice", None, "chloe"]

    out, err = cli_process(settings, "demo", "--customers", "40").communicate(timeout=120)
    assert "already loaded" in out and "loading" not in out, err
    assert "customers: 40 " in out


@pytest.mark.slow
def test_sigterm_ends_an_import_through_its_cleanup(database, settings, tmp_path):
    feed = tmp_path / "feed.jsonl"
    assert CliRunner().invoke(cli, ["demo-data", "--customers", "400", "--as-of", "2026-11-23",
                                    "--output", str(feed)]).exit_code == 0
    process = cli_process(settings, "import", str(feed), "--batch-size", "50")
    deadline = time.monotonic() + 60
    with database.connect() as conn:
        while process.poll() is None and time.monotonic() < deadline:
            if conn.execute("SELECT count(*) FROM collections_events").fetchone()[0] > 0:
                process.send_signal(signal.SIGTERM)
                break
            time.sleep(0.005)
    process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM  # SystemExit from our handler, not -15


def test_token_prints_a_bearer_token_the_api_accepts(settings):
    from ledger_collect.api.auth import read_token

    secret = "s" * 40
    result = invoke(settings, "token", "alice", "--role", "supervisor", "--segment", "EU-1",
                    "--segment", "EU-2", LEDGER_JWT_SECRET=secret)
    assert result.exit_code == 0, result.output
    user = read_token(result.output.strip(), secret.encode())
    assert (user.id, user.role.value, sorted(user.segments)) == ("alice", "supervisor",
                                                                 ["EU-1", "EU-2"])


def test_token_without_a_secret_against_a_server_is_a_one_line_error(settings):
    result = invoke(settings, "token", "bob", LEDGER_JWT_SECRET=None)
    assert result.exit_code == 1
    assert "no token secret: set LEDGER_JWT_SECRET" in result.output
