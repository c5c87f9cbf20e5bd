"""The email templates shipped with the program, and which template an email is composed from.

Shipped templates are files in the package, ``templates/email/<key>[-<level>].<language>.txt``:
a first line ``Subject: ...``, an empty line, the body. They are checked like saved ones (a
test renders each). A saved template (``EmailTemplate``) of the same key, language and level
replaces the shipped one; a level's letter falls back to the key's letter without a level.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from uuid import UUID

from ledger_collect.domain.base import NotFoundError
from ledger_collect.domain.email_template import EmailTemplate, describe, template_id


@dataclass(frozen=True)
class TemplateText:
    """A template as an email is composed from it; ``revision`` None: the shipped one."""

    key: str
    language: str
    level: int | None
    subject: str
    body: str
    revision: int | None = None
    saved_by: str | None = None

    @property
    def shipped(self) -> bool:
        return self.revision is None


class UnknownTemplateError(NotFoundError, code="NOT_FOUND"):
    """No template, saved or shipped, for a key and language (and level)."""


def _parse(name: str, text: str) -> TemplateText:
    stem, language = name.removesuffix(".txt").rsplit(".", 1)
    key, _, level = stem.partition("-")
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"shipped template {name} must start with a Subject: line")
    return TemplateText(key, language, int(level) if level else None,
                        first.removeprefix("Subject:").strip(), body.lstrip("\n"))


@functools.cache
def shipped() -> dict[UUID, TemplateText]:
    """Every shipped template by its id."""
    folder = resources.files("ledger_collect") / "templates" / "email"
    found = [_parse(f.name, f.read_text(encoding="utf-8")) for f in folder.iterdir()
             if f.name.endswith(".txt")]
    return {template_id(t.key, t.language, t.level): t for t in found}


def saved_text(template: EmailTemplate | Any) -> TemplateText:
    return TemplateText(template.key, template.language, template.level, template.subject,
                        template.body, template.revision, template.saved_by)


def find_template(find: Callable[[UUID], Any], key: str, language: str,
                  level: int | None = None) -> TemplateText:
    """The template an email of ``key`` in ``language`` (at dunning ``level``) is composed
    from: the saved one, else the shipped one; for a level, then the key's without a level.
    ``find`` loads a saved template by id (None when there is none): an ``EmailTemplate``,
    or a record with the same fields (the read model's, for the API's preview)."""
    for wanted in ([level, None] if level is not None else [None]):
        tid = template_id(key, language, wanted)
        saved = find(tid)
        if saved is not None:
            return saved_text(saved)
        if tid in shipped():
            return shipped()[tid]
    raise UnknownTemplateError(f"there is no email template {describe(key, language, level)}; "
                               f"save one first")
