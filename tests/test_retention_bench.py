"""The retention benchmark (benchmarks/retention_bench.py) end to end at a small scale: its own
store generated and imported, half of it archived and purged while a writer process runs
commands, the archive verified, one customer erased with the projector running beside it; the
run must be right (exit code 0: every due event archived and purged, no verification problem,
no personal value left, no failed command) and print every figure."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ledger_collect.config import Settings

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "retention_bench.py"


def test_the_bench_archives_half_a_small_store_and_erases_one_customer(
        settings: Settings) -> None:
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url or "",
           "LEDGER_DATA_DIR": str(settings.data_dir), "LEDGER_MASTER_KEY": ""}
    done = subprocess.run([sys.executable, str(BENCH), "--events", "20000"], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-4000:]
    due = re.search(r"due for archive on \S+ .*: ([\d,]+) streams, ([\d,]+) events \((\d+)%\)",
                    out)
    assert due, out
    assert 45 <= int(due[3]) <= 60, due[0]  # about half the store
    archived = re.search(r"([\d,]+) events archived \(the archive holds ([\d,]+)\), "
                         r"([\d,]+) purged", out)
    assert archived, out
    due_events = int(due[2].replace(",", ""))
    assert due_events > 0
    assert [int(archived[k].replace(",", "")) for k in (1, 2, 3)] == [due_events] * 3
    before = re.search(r"before erasure in (\d+) rows", out)
    assert before and int(before[1]) > 0, out
    assert "personal values left in read models: 0" in out
    for label in ("archive + purge", "longest wait for the event table's lock",
                  "archive verify", "erase_customer", "read models forgotten"):
        assert re.search(rf"^  {re.escape(label)}: [\d,.]+ ", out, re.MULTILINE), label
