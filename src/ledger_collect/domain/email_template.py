"""Email template: the subject and body a collection email is composed from, kept as data.

One template per key (``statement``, ``reminder``, ``dunning``...), language and, for dunning
letters, level; its id follows from those three, so saving "the French level-2 dunning letter"
always lands on the same record. Every save that changes the text is a new version, recorded as
an event with who saved it: the log is the template's audit trail. Without a saved template the
one shipped with the program is used (``commands.template_defaults``).

The text is checked before anything is recorded (``templating.check``): a template that would
fail when an email is sent is never saved.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate, ValidationError, derived_id
from ledger_collect.domain.templating import check

_KEY = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_LANGUAGE = re.compile(r"[a-z]{2}(-[A-Z]{2})?")
#: The highest dunning level a letter may have.
MAX_LEVEL = 9


def template_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValidationError(f"template key {key!r} must be lowercase letters, digits, - or _ "
                              f"(at most 40, starting with a letter)")
    return key


def language_code(language: str) -> str:
    if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
        raise ValidationError(f"language {language!r} must be a code such as en, fr or fr-CH")
    return language


def dunning_level(level: Any, what: str = "dunning level") -> int:
    if type(level) is not int or not 0 <= level <= MAX_LEVEL:
        raise ValidationError(f"{what} {level!r} must be a whole number from 0 to {MAX_LEVEL}")
    return level


def template_id(key: str, language: str, level: int | None = None) -> UUID:
    return derived_id("email-template", f"{key}/{language}/{'' if level is None else level}")


def describe(key: str, language: str, level: int | None) -> str:
    """How messages name a template: ``dunning (fr, level 2)``."""
    return f"{key} ({language}{'' if level is None else f', level {level}'})"


def checked_text(subject: str, body: str, language: str) -> tuple[str, str]:
    subject, body = (subject or "").strip(), body or ""
    if not subject:
        raise ValidationError("a template needs a subject")
    if not body.strip():
        raise ValidationError("a template needs a body")
    check("subject", subject, language)
    check("body", body, language)
    return subject, body


class EmailTemplate(CollectionsAggregate):
    TOPIC = "ledger_collect.EmailTemplate"

    @staticmethod
    def create_id(key: str, language: str, level: int | None = None, **_: Any) -> UUID:
        return template_id(key, language, level)

    @classmethod
    def save_first(cls, *, key: str, language: str, level: int | None, subject: str, body: str,
                   actor: str, business_date: date) -> EmailTemplate:
        """The first version of the template (key, language, level)."""
        key, language = template_key(key), language_code(language)
        if level is not None:
            dunning_level(level)
        subject, body = checked_text(subject, body, language)
        return cls(key=key, language=language, level=level, subject=subject, body=body,
                   actor=actor, business_date=business_date)

    @event("Saved", topic="ledger_collect.EmailTemplate.Saved")
    def __init__(self, key: str, language: str, level: int | None, subject: str, body: str,
                 actor: str, business_date: date) -> None:
        self.key, self.language, self.level = key, language, level
        self.subject, self.body = subject, body
        self.revision = 1
        self.saved_by, self.saved_on = actor, business_date

    def save(self, *, subject: str, body: str, actor: str, business_date: date) -> bool:
        """A new version with this text; False (nothing recorded) when the text is the same."""
        subject, body = checked_text(subject, body, self.language)
        if (subject, body) == (self.subject, self.body):
            return False
        self._changed(subject=subject, body=body, actor=actor, business_date=business_date)
        return True

    @event("Changed", topic="ledger_collect.EmailTemplate.Changed")
    def _changed(self, subject: str, body: str, actor: str, business_date: date) -> None:
        self.subject, self.body = subject, body
        self.revision += 1
        self.saved_by, self.saved_on = actor, business_date
