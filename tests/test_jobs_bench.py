"""The jobs benchmark (benchmarks/jobs_bench.py) end to end at a small scale: a portfolio
loaded, promises over, the schedule's morning group run by a real `ledger-collect worker`
process beside a projector, each job and the whole timed, emails or "not registered", the
broker's drain rate; the schema dropped at the end. On the machine's RabbitMQ when
LEDGER_TEST_RABBITMQ_URL names it (as CI does), else on the embedded broker: once, it takes
half a minute."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
from job_helpers import brokers

from ledger_collect.config import Settings
from ledger_collect.jobs.registry import JOBS
from ledger_collect.jobs.schedule import SCHEDULE

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "jobs_bench.py"
LINES = re.MULTILINE
URLS = {"rabbitmq": "LEDGER_TEST_RABBITMQ_URL", "redis": "LEDGER_TEST_REDIS_URL"}


def test_the_bench_runs_the_morning_group_at_a_small_scale(settings: Settings) -> None:
    broker = "rabbitmq" if "rabbitmq" in brokers() else "postgres"
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url or "",
           "LEDGER_DATA_DIR": str(settings.data_dir), "LEDGER_MASTER_KEY": "",
           "LEDGER_BROKER_URL": os.environ.get(URLS.get(broker, ""), "")}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--customers", "200", "--broker", broker, "--workers",
         "1", "--threads", "2", "--emails", "10", "--drain", "300", "--timeout", "120"],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    summary = out[out.index("\nsummary: "):]
    morning = [due.job for due in SCHEDULE if due.group == "morning"]
    assert morning and "summary: 200 customers, broker " + broker in summary
    timed = r"\s+[\d.]+ s  [\d,]+ customers/s\s+"
    for job in morning:
        assert re.search(rf"^  {job}{timed}\S", summary, LINES), job
    valuation = re.search(rf"^  promise-valuation{timed}(valued .*)$", summary, LINES)
    assert valuation and set(valuation.group(1).split(", ")) == {
        "valued 40", "partially_kept 20", "broken 20"}, summary  # a fifth, half of them paid
    assert re.search(rf"^  worklist-rankings{timed}days_ranked 1$", summary, LINES)  # a new day
    assert re.search(rf"^  morning \({len(morning)} jobs\){timed}target", summary, LINES)
    if not any(job.item == "email_id" for job in JOBS.values()):
        assert re.search(r"^  emails\s+not registered", summary, LINES)
    else:
        assert re.search(r"^  emails \(SMTP\)\s+[\d.]+ s  [\d,]+ emails/s\s+10 of 10 sent$",
                         summary, LINES)
        if "dunning-run" in morning:  # every letter issued reached the mail server
            issued = re.search(r"^  dunning-run\s.*issued (\d+)", summary, LINES)
            assert issued and int(issued.group(1)) > 0, summary
            assert f"the morning's letters delivered ({issued.group(1)} at the SMTP" in out
    assert re.search(r"^  broker drain \(2 threads\)\s+[\d,]+ messages/s\s+300 trivial",
                     summary, LINES)
    schema = re.search(r"schema (bench_api_\w+)", out).group(1)  # type: ignore[union-attr]
    with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
        assert conn.execute("SELECT to_regnamespace(%s)", (schema,)).fetchone()[0] is None
