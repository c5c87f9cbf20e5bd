"""The dunning run issues its letters in chunks, one save each: a letter a rule refuses is
counted and left out of its chunk without spoiling the others, nothing of it half-applied; a
chunk meeting a letter issued at the same moment by another run is issued letter by letter;
the emails of the letters issued are handed to the sending once their chunk is saved."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from dunning_helpers import DAY, ERP, SUE, CollectionEmails, customer, invoice, proposal, standard

from ledger_collect.commands import dunning_commands as dc
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections
from ledger_collect.domain.base import ValidationError
from ledger_collect.domain.dunning_letter import DunningLetter
from ledger_collect.domain.dunning_rules import Letter
from ledger_collect.jobs import dunning_jobs
from ledger_collect.jobs.dunning_jobs import run_dunning
from ledger_collect.projections.dunning_proposal import Proposal

NUMBERS = ("C-1", "C-2", "C-3", "C-4", "C-5")


def _five_letters(app: Collections) -> tuple[dict[str, UUID], Proposal]:
    """Five customers, each one invoice 20 days overdue (a level-1 letter each), and the
    proposal read before anything changed."""
    standard(app)
    ids = {number: customer(app, number) for number in NUMBERS}
    for n, number in enumerate(NUMBERS, start=1):
        ids[f"I-{n}"] = invoice(app, number, f"I-{n}", overdue=20)
    proposed = proposal(app)
    assert [p.customer_number for p in proposed.letters] == list(NUMBERS)
    return ids, proposed


def _by_customer(proposed: Proposal) -> dict[str, Letter]:
    return {p.customer_number: p.letter for p in proposed.letters}


def _emailed(app: Collections) -> dict[UUID, UUID]:
    """customer id -> id of the email the letters created for it."""
    return {app.repository.get(e).customer_id: e for e in CollectionEmails(app)}


def test_a_chunk_issues_the_good_letters_and_leaves_the_stale_one_out(
        app: Collections) -> None:
    ids, proposed = _five_letters(app)
    letters = _by_customer(proposed)
    app.run(rc.clear_invoice, source_id="clr-2", invoice_number="I-2", **ERP)  # C-2: paid
    app.run(rc.change_contact, ids["C-4"], "p1", name="Paul", email=None, role="dunning",
            **ERP)  # C-4: no address any more
    app.run(dc.issue_dunning_letter, letters["C-5"], **SUE)  # C-5: issued before
    before = _emailed(app)

    outcome = app.run(dc.issue_dunning_letters, list(letters.values()), **SUE)

    statuses = [(issue.letter_id, issue.status) for issue in outcome.result]
    assert statuses == [(letters["C-1"].letter_id, "issued"), (letters["C-2"].letter_id, "stale"),
                        (letters["C-3"].letter_id, "issued"),
                        (letters["C-4"].letter_id, "no_address"),
                        (letters["C-5"].letter_id, "already")]
    stale = outcome.result[1]
    assert stale.email_id is None and "I-2 is no longer an open item" in (stale.reason or "")
    emailed = _emailed(app)
    assert set(emailed) == {ids["C-1"], ids["C-3"], ids["C-5"]}
    assert emailed[ids["C-5"]] == before[ids["C-5"]]
    assert {emailed[ids["C-1"]], emailed[ids["C-3"]]} == {
        outcome.result[0].email_id, outcome.result[2].email_id}
    issued = app.load_aggregates(letter.letter_id for letter in letters.values())
    assert set(issued) == {letters["C-1"].letter_id, letters["C-3"].letter_id,
                           letters["C-5"].letter_id}
    assert issued[letters["C-1"].letter_id].email_id == emailed[ids["C-1"]]
    # two records per letter issued (its email, its letter), in the one save
    assert len(outcome.changed) == 4


def test_the_run_counts_each_chunks_letters_and_sends_the_issued_ones(
        app: Collections, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of two: the stale letter (C-2) shares its chunk with C-1, the letter without
    address (C-4) with C-3; the read models showed neither change yet."""
    ids, proposed = _five_letters(app)
    app.run(rc.clear_invoice, source_id="clr-2", invoice_number="I-2", **ERP)
    app.run(rc.change_contact, ids["C-4"], "p1", name="Paul", email=None, role="dunning",
            **ERP)
    monkeypatch.setattr(dunning_jobs, "propose", lambda conn, on: proposed)
    sent: list[UUID] = []
    monkeypatch.setattr(dunning_jobs, "_send_soon", lambda app, email_id: sent.append(email_id))
    steps: list[tuple[int, int]] = []

    counts = run_dunning(app, business_date=DAY, chunk=2,
                         progress=lambda *step: steps.append(step))

    assert counts == {"proposed": 5, "issued": 3, "already": 0, "no_address": 1, "stale": 1,
                      "refused": 0}
    assert steps == [(0, 5), (2, 5), (4, 5), (5, 5)]
    emailed = _emailed(app)
    assert set(emailed) == {ids["C-1"], ids["C-3"], ids["C-5"]}
    assert sorted(sent) == sorted(emailed.values())
    assert run_dunning(app, business_date=DAY, chunk=2)["already"] == 3


def test_a_letter_refused_after_its_email_was_begun_leaves_nothing_of_itself(
        app: Collections, monkeypatch: pytest.MonkeyPatch) -> None:
    ids, proposed = _five_letters(app)
    issue = DunningLetter.issue

    def refusing(letter: Letter, **kwargs: Any) -> DunningLetter:
        if letter.customer_id == ids["C-3"]:
            raise ValidationError("the letter of C-3 cannot be recorded")
        return issue(letter, **kwargs)

    monkeypatch.setattr(dc.DunningLetter, "issue", refusing)
    outcome = app.run(dc.issue_dunning_letters, [p.letter for p in proposed.letters], **SUE)

    assert [i.status for i in outcome.result] == ["issued", "issued", "refused", "issued",
                                                  "issued"]
    assert outcome.result[2].reason == "the letter of C-3 cannot be recorded"
    assert ids["C-3"] not in _emailed(app)  # its email, begun, is not saved
    assert len(_emailed(app)) == 4


def test_a_chunk_meeting_a_letter_issued_meanwhile_is_issued_letter_by_letter(
        app: Collections, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run issues C-1's letter between the chunk's reading and its save: the chunk's
    save conflicts and saves nothing; issued one by one, C-1's is found issued."""
    ids, proposed = _five_letters(app)
    chunked = dc.issue_dunning_letters

    def racing(batch: Any, letters: list[Letter], **kwargs: Any) -> Any:
        result = chunked(batch, letters, **kwargs)
        app.run(dc.issue_dunning_letter, letters[0], **kwargs)
        return result

    monkeypatch.setattr(dunning_jobs, "issue_dunning_letters", racing)
    monkeypatch.setattr(dunning_jobs, "_send_soon", lambda app, email_id: None)
    counts = run_dunning(app, business_date=DAY)

    assert (counts["issued"], counts["already"]) == (4, 1)
    assert set(_emailed(app)) == {ids[number] for number in NUMBERS}
    assert len(CollectionEmails(app)) == 5
