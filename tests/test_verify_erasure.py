"""The erasure verifier finds a value in every form a dump or a segment holds it, says where,
and is not fooled by what merely looks like it."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from click.testing import CliRunner
from conftest import TODAY
from verify_helpers import private_database

from ledger_collect.cli import cli
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import (
    add_contact,
    add_customer_note,
    register_customer,
)
from ledger_collect.compliance import database_dump
from ledger_collect.compliance import verify_erasure as verify_erasure_module
from ledger_collect.compliance.archive import ArchivedEvent, open_archive, segment_name
from ledger_collect.compliance.archive.segment import encode
from ledger_collect.compliance.verify_erasure import (
    BLOCK_BYTES,
    Report,
    ValuesError,
    mask,
    read_values,
    scan_dump,
    scan_segment,
    verify_erasure,
)
from ledger_collect.config import Settings
from ledger_collect.projections.engine import catch_up

VALUES = [(1, "Jeanne Martin"), (2, "jeanne.martin@acme.example"), (3, "+33 1 45 67 89 00"),
          (4, "Zoë \"Zizi\" Ødegård\nsecond line")]


def _dump(*lines: str | bytes) -> io.BytesIO:
    return io.BytesIO(b"\n".join(line.encode() if isinstance(line, str) else line
                                 for line in lines) + b"\n")


def _scan(*lines: str | bytes, values=VALUES) -> Report:
    report = Report()
    scan_dump(_dump(*lines), values, report)
    return report


def _hex(data: bytes) -> str:
    return "\\\\x" + data.hex()


def test_a_value_is_found_as_written_and_placed_by_table_column_and_line():
    report = _scan(
        "-- PostgreSQL database dump",
        "CREATE TABLE t1.contact_persons (customer_id uuid, name text, email text);",
        "COPY t1.contact_persons (customer_id, name, email) FROM stdin;",
        "c0ffee00-0000-0000-0000-000000000001\tSomeone Else\tother@example.org",
        "c0ffee00-0000-0000-0000-000000000002\tJEANNE MARTIN\tJeanne.Martin@ACME.example",
        "\\.",
        "COPY t1.notes (customer_id, text) FROM stdin;",
        "c0ffee00-0000-0000-0000-000000000002\tcall +33 1 45 67 89 00 after six",
        "\\.",
    )
    assert [h.describe() for h in report.hits] == [
        "value #1 'J***********n' (plain) in table t1.contact_persons column name, dump line 5",
        "value #2 'j************************e' (plain) in table t1.contact_persons column "
        "email, dump line 5",
        "value #3 '+***************0' (plain) in table t1.notes column text, dump line 8",
    ]
    assert report.tables == 2 and report.dump_lines == 9


def test_escaped_forms_are_found_copy_json_and_json_inside_jsonb():
    zoe = VALUES[3][1]
    copy_escaped = zoe.replace("\n", "\\n")
    in_jsonb = json.dumps({"note": zoe}, ensure_ascii=False).replace("\\", "\\\\")
    ascii_json = json.dumps({"note": zoe}).replace("\\", "\\\\")
    report = _scan(
        "COPY s.a (id, text, doc) FROM stdin;",
        f"1\t{copy_escaped}\t\\N",
        f"2\tnothing\t{in_jsonb}",
        f"3\tnothing\t{ascii_json}",
        "\\.",
    )
    assert [(h.value, h.form, h.column, h.line) for h in report.hits] == [
        (4, "plain", "text", 2), (4, "json", "doc", 3), (4, "json-ascii", "doc", 4)]


def test_bytea_is_searched_decoded_and_hex_digits_are_not_mistaken_for_a_value():
    state = json.dumps({"name": "Jeanne Martin", "phone": "+33 1 45 67 89 00"}).encode()
    report = _scan(
        "COPY s.collections_events (originator_id, originator_version, topic, state) FROM stdin;",
        f"a\t1\tledger_collect.Customer.Registered\t{_hex(state)}",
        # The digits of the phone number, written as hex digits: not the phone number.
        f"b\t1\tledger_collect.Customer.Registered\t\\\\x00{'33145678900'}0",
        # Text after a bytea on its line, and a backslash-x that is no bytea.
        f"c\t{_hex(b'abc')}\tJeanne Martin\tC:\\\\xfiles",
        "\\.",
    )
    assert sorted((h.value, h.form, h.column, h.line) for h in report.hits) == [
        (1, "plain", "topic", 4), (1, "plain, bytea", "state", 2),
        (3, "plain, bytea", "state", 2)]


def test_a_phone_number_is_found_without_its_spaces_too():
    report = _scan("COPY s.a (id, phone) FROM stdin;", "1\t+33145678900", "\\.")
    assert [(h.value, h.form) for h in report.hits] == [(3, "digits")]


def test_outside_the_data_a_hit_is_in_the_dump_itself():
    report = _scan("COMMENT ON TABLE s.a IS 'kept for Jeanne Martin';")
    assert [(h.place, h.column, h.line) for h in report.hits] == [("dump", None, 1)]


def test_lines_across_block_borders_keep_their_numbers_and_tables():
    filler = "x" * 1000
    rows = BLOCK_BYTES // 1000 * 3
    lines = ["COPY s.big (id, text) FROM stdin;"]
    lines += [f"{n}\t{filler}" for n in range(rows)]
    lines += [f"{rows}\tJeanne Martin", "\\.", "COPY s.after (id) FROM stdin;", "\\."]
    report = _scan(*lines)
    assert [(h.place, h.column, h.line) for h in report.hits] == [
        ("table s.big", "text", rows + 2)]
    assert report.tables == 2 and report.dump_lines == rows + 5


def test_nothing_found_is_an_empty_report():
    report = _scan("COPY s.a (id, name) FROM stdin;", "1\t[erased]", "\\.")
    assert report.hits == [] and report.hit_count == 0


def test_a_segment_is_searched_as_plain_and_json_bytes():
    data = b"\x00\x01" + json.dumps({"to": ["Jeanne.Martin@acme.example"]}).encode() + \
        "Zoë".encode() + json.dumps(VALUES[3][1]).encode()
    report = Report()
    scan_segment("segments/00000007.zst", data, VALUES, report)
    assert [(h.value, h.form, h.place) for h in report.hits] == [
        (2, "plain", "archive segments/00000007.zst"),
        (4, "json-ascii", "archive segments/00000007.zst")]
    assert report.hits[0].offset == 11 and report.segments == 1


def test_hits_beyond_the_cap_are_counted_not_kept():
    report = Report(max_hits=2)
    scan_dump(_dump("COPY s.a (id, name) FROM stdin;",
                    *[f"{n}\tJeanne Martin" for n in range(5)], "\\."), VALUES, report)
    assert report.hit_count == 5 and len(report.hits) == 2


def test_the_values_file_one_a_line_too_short_a_value_is_refused(tmp_path: Path):
    good = tmp_path / "values.txt"
    good.write_text("\ufeffJeanne Martin\n\n  +33 1 45 67 89 00  \n", encoding="utf-8")
    assert read_values(good) == [(1, "Jeanne Martin"), (3, "+33 1 45 67 89 00")]
    short = tmp_path / "short.txt"
    short.write_text("Jeanne\nJo\n")
    with pytest.raises(ValuesError, match="line 2"):
        read_values(short)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(ValuesError, match="no value"):
        read_values(empty)


def test_a_masked_value_shows_its_ends_only():
    assert mask("Jeanne") == "J****e"
    assert mask("Anna") == "A***"


def test_the_pg_dump_chosen_is_the_oldest_not_older_than_the_server():
    found = {path: database_dump.pg_dump_major(path)
             for path in database_dump.pg_dump_candidates()}
    assert 18 in found.values()  # the embedded server's own, from the wheel
    chosen = database_dump.choose_pg_dump(18)
    assert found[chosen] == 18
    oldest = min(found.values())
    assert found[database_dump.choose_pg_dump(oldest)] == oldest
    with pytest.raises(database_dump.DumpError, match="PostgreSQL 99"):
        database_dump.choose_pg_dump(99)


# -- on a database of its own: the dump is of the whole database -------------------------------
@pytest.fixture
def settings(server_url: str, tmp_path: Path) -> Iterator[Settings]:
    """The test's own database, not a schema of the shared one: the verifier dumps all of it,
    and other tests' schemas come and go meanwhile."""
    with private_database(server_url) as url:
        yield Settings(database_url=url, data_dir=tmp_path, schema="ledger",
                       master_key=base64.b64encode(os.urandom(32)).decode(), pool_size=2,
                       speedups=Settings.from_env().speedups)


NAME, EMAIL, PHONE = "Jeanne Martin", "jeanne.martin@acme.example", "+33 1 45 67 89 00"
NOTE = "Asked to call back after the board meeting"


def _customer(app: Collections, number: str = "C-100") -> UUID:
    cid = app.run(register_customer, number=number, name="Acme SARL", segment="EU-1",
                  credit_limit=Decimal(10000), currency="EUR", risk_class="C",
                  source_id=f"cust-{number}", actor="erp", business_date=TODAY).result
    app.run(add_contact, cid, "k1", name=NAME, email=EMAIL, phone=PHONE,
            role="accounts payable", actor="alice", business_date=TODAY)
    app.run(add_customer_note, cid, "n1", NOTE, actor="alice", business_date=TODAY)
    return cid


def test_the_verifier_finds_what_the_store_holds_read_models_and_plain_event_fields(
        app, settings, database):
    _customer(app)
    catch_up(app)
    values = [(1, NAME), (2, EMAIL), (3, PHONE), (4, NOTE), (5, "Acme SARL")]
    report = verify_erasure(settings, database, values)
    found = {(hit.value, hit.place, hit.column) for hit in report.hits}
    # Sealed in the events, plain in the read models (until an erasure blanks them).
    assert {(1, "table ledger.contact_persons", "name"),
            (2, "table ledger.contact_persons", "email"),
            (3, "table ledger.contact_persons", "phone"),
            (4, "table ledger.customer_notes", "text")} <= found
    assert not any(place == "table ledger.collections_events" and value < 5
                   for value, place, _ in found)
    # The customer's name is no personal data: plain in its events' bytea.
    assert (5, "table ledger.collections_events", "state") in found
    assert report.dump_bytes > 0 and report.tables > 10


def test_the_command_exits_1_on_hits_0_on_none_and_2_when_it_cannot_tell(
        app, settings, database, tmp_path):
    cid = _customer(app)
    catch_up(app)
    env = {"LEDGER_DATABASE_URL": settings.database_url, "LEDGER_SCHEMA": settings.schema,
           "LEDGER_MASTER_KEY": settings.master_key, "LEDGER_DATA_DIR": str(tmp_path)}
    found = tmp_path / "found.txt"
    found.write_text(f"{NAME}\n{EMAIL}\n")
    result = CliRunner().invoke(cli, ["verify-erasure", "C-100", "--values", str(found)], env=env)
    assert result.exit_code == 1, result.output
    assert "hit: value #1 'J***********n' (plain) in table ledger.contact_persons column name" \
        in result.stdout
    assert NAME not in result.output and EMAIL not in result.output
    assert "data key not erased" in result.stderr
    absent = tmp_path / "absent.txt"
    absent.write_text("Nobody Here\n")
    result = CliRunner().invoke(cli, ["verify-erasure", str(cid), "--values", str(absent)],
                                env=env)
    assert result.exit_code == 0, result.output
    assert "0 hits in a dump of" in result.stderr
    result = CliRunner().invoke(cli, ["verify-erasure", "C-999", "--values", str(absent)],
                                env=env)
    assert result.exit_code == 2 and "no customer C-999" in result.output


def test_every_segment_object_is_searched_listed_orphaned_or_broken(app, settings, database):
    """A value planted in an archived event's state is found in the segment the manifest lists,
    in an orphan the manifest does not list, and in an object that no longer decompresses."""
    archive = open_archive(settings, database)
    planted = json.dumps({"note": f"talked to {NAME}"}).encode()
    event = ArchivedEvent(uuid4(), 1, "ledger_collect.Test.Noted", planted, 1)
    archive.append_segment([event, ArchivedEvent(uuid4(), 1, "ledger_collect.Test.Other",
                                                 b"{}", 2)])
    storage = archive.storage
    storage.put(segment_name(2), encode(2, "0" * 64, [event]))  # an append that crashed
    storage.put(segment_name(3), b"not zstandard: " + planted)
    report = verify_erasure(settings, database, [(1, NAME), (2, EMAIL)])
    assert sorted((h.value, h.place) for h in report.hits) == [
        (1, f"archive {segment_name(n)}") for n in (1, 2, 3)]
    assert report.segments == 3 and report.archive == storage.location
    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"{segment_name(3)} does not decompress")


def test_a_long_dump_tells_its_progress(monkeypatch: pytest.MonkeyPatch):
    clock = iter(range(0, 1000, 2))  # two seconds pass between two looks at the clock
    monkeypatch.setattr(verify_erasure_module.time, "monotonic", lambda: next(clock))
    rows = BLOCK_BYTES // 100 * 3
    told: list[tuple[int, str]] = []
    scan_dump(_dump("COPY s.big (id, text) FROM stdin;", *[f"{n}\t{'y' * 90}" for n in range(rows)],
                    "\\."), VALUES, Report(), lambda done, table: told.append((done, table)))
    # The table being read, none once its COPY data ended.
    assert [table for _, table in told] == ["s.big"] * (len(told) - 1) + [""]
    assert len(told) >= 3
    assert [done for done, _ in told] == sorted(done for done, _ in told)
