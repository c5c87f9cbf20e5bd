"""Who may do what, and who may see personal data.

Roles come from the bearer token; each role is granted actions, either everywhere or only for
customers of the user's own segments. Every mutation names the action it needs and the customer
it concerns (``api.runner`` checks both before the command runs). Personal data — names of people,
email addresses, phone numbers, free-text notes — is never handed to GraphQL as a string: read
models wrap it in ``Personal``, and only a field declared with ``personal_field()`` turns it back
into text, after checking the viewer may see that customer's personal data. A ``Personal`` value
reaching the client any other way fails (see ``PERSONAL_TEXT``), so a forgotten guard shows up
as an error, never as a leak.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.extensions import FieldExtension

from ledger_collect.api.errors import Forbidden

if TYPE_CHECKING:
    from strawberry import Info


class Role(enum.StrEnum):
    SPECIALIST = "specialist"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    COMPLIANCE = "compliance"
    INTEGRATION = "integration"
    ADMIN = "admin"


class Action(enum.StrEnum):
    READ = "read"  # non-personal data of any customer
    SEE_PERSONAL_DATA = "see personal data"
    CASEWORK = "record casework"  # contacts, promises, disputes, follow-ups, notes, emails...
    ASSIGN = "assign customers"
    ERP_FEED = "feed ERP facts"  # customers, invoices, payments, credit memos, clearings
    EMAIL_DELIVERY = "report email delivery"  # the mailer's sent / failed reports
    RETENTION = "manage retention"
    RESTRICTED_DATA = "read restricted personal data"  # kept after erasure by legal retention
    STRATEGY = "publish collection strategies"
    TEAM = "manage teams"  # who works a segment, absences and substitutes
    EMAIL_TEMPLATES = "edit email templates"
    DUNNING = "configure dunning"  # procedures, and which one a segment or customer follows
    DUNNING_BLOCK = "block dunning"  # of a customer or an invoice, and release the block
    RUN_JOBS = "run jobs"  # a job by hand (valuation, worklists...): it concerns every segment
    JOB_DETAILS = "see job run details"  # who asked, which worker, error texts (not counts)


class Scope(enum.Enum):
    OWN_SEGMENTS = "own segments"
    EVERYWHERE = "everywhere"


OWN, ALL = Scope.OWN_SEGMENTS, Scope.EVERYWHERE

#: The whole policy, as data. An action missing from a role's row is refused.
GRANTS: dict[Role, dict[Action, Scope]] = {
    Role.SPECIALIST: {Action.READ: ALL, Action.SEE_PERSONAL_DATA: OWN, Action.CASEWORK: OWN,
                      Action.ASSIGN: OWN,  # ASSIGN: only themselves, see require_assignment
                      Action.DUNNING_BLOCK: OWN},
    Role.SUPERVISOR: {Action.READ: ALL, Action.SEE_PERSONAL_DATA: OWN, Action.CASEWORK: OWN,
                      Action.ASSIGN: OWN, Action.STRATEGY: OWN, Action.TEAM: OWN,
                      Action.DUNNING: OWN, Action.DUNNING_BLOCK: OWN,
                      Action.EMAIL_TEMPLATES: ALL, Action.RUN_JOBS: ALL,
                      Action.JOB_DETAILS: ALL},
    Role.AUDITOR: {Action.READ: ALL, Action.SEE_PERSONAL_DATA: ALL, Action.JOB_DETAILS: ALL,
                   Action.RESTRICTED_DATA: ALL},
    Role.COMPLIANCE: {Action.READ: ALL, Action.RETENTION: ALL, Action.JOB_DETAILS: ALL,
                      Action.RESTRICTED_DATA: ALL},
    Role.INTEGRATION: {Action.READ: ALL, Action.ERP_FEED: ALL, Action.EMAIL_DELIVERY: ALL},
    Role.ADMIN: {action: ALL for action in Action},
}


@dataclass(frozen=True)
class User:
    """The authenticated caller: ``id`` is the token's subject and the actor of its commands."""

    id: str
    role: Role
    segments: frozenset[str] = frozenset()

    def may(self, action: Action, segment: str | None = None) -> bool:
        """True when the role grants ``action`` everywhere, or for ``segment`` when it is one
        of the user's own (``segment=None`` asks whether the role has the action at all)."""
        scope = GRANTS[self.role].get(action)
        if scope is None:
            return False
        return scope is ALL or segment is None or segment in self.segments

    def sees_personal_data_of(self, segment: str) -> bool:
        return self.may(Action.SEE_PERSONAL_DATA, segment)


def require(user: User, action: Action, segment: str | None = None) -> None:
    """Raise ``Forbidden`` unless the user may ``action`` (for a customer of ``segment``)."""
    if not user.may(action, segment):
        where = "" if segment is None or not user.may(action) else (
            f" for customers of segment {segment}")
        raise Forbidden(f"a user with role {user.role} may not {action}{where}")


def require_everywhere(user: User, action: Action, what: str) -> None:
    """Raise ``Forbidden`` unless the user may ``action`` for every segment (``what`` concerns
    them all, like the default collection strategy)."""
    if GRANTS[user.role].get(action) is not ALL:
        raise Forbidden(f"a user with role {user.role} may not {action} for {what}: it "
                        f"concerns every segment")


def require_assignment(user: User, *, segment: str, current: str | None,
                       new: str | None) -> None:
    """Supervisors (and admins) assign customers of their segments to anyone; a specialist only
    takes an unassigned customer for themselves or gives up their own, never someone else's."""
    require(user, Action.ASSIGN, segment)
    if user.role is not Role.SPECIALIST:
        return
    if current not in (None, user.id):
        raise Forbidden(f"this customer is assigned to {current}; only a supervisor can "
                        f"reassign it")
    if new not in (None, user.id):
        raise Forbidden("a specialist can only assign customers to themselves; ask a supervisor "
                        "to assign them to someone else")


@dataclass(frozen=True, repr=False)
class Personal:
    """A piece of personal data of a customer's people, with the segment of that customer.

    Read models hand these out instead of strings. It has no readable ``str`` or ``repr`` so
    that it cannot end up in a response, a log line or an error message by accident.
    """

    value: str | None
    segment: str

    def __repr__(self) -> str:
        return f"Personal(<hidden>, segment={self.segment!r})"

    def __str__(self) -> str:
        raise TypeError("personal data can only be served through personal_field()")


def _refuse_unguarded(value: Any) -> str:
    if isinstance(value, str):  # already revealed by personal_field()
        return value
    raise TypeError("personal data can only be served through personal_field()")


def _refuse_input(value: Any) -> Any:
    raise ValueError("PersonalText is an output type; send personal data as String")


#: The GraphQL scalar of ``Personal`` values (schema config ``scalar_map``): clients see which
#: fields hold personal data, and an unguarded value fails instead of being served.
PERSONAL_TEXT = strawberry.scalar(
    name="PersonalText",
    description="Personal data (a person's name, email address, phone number or a free-text "
                "note). Null, with a FORBIDDEN error at its path, for viewers who may not see "
                "personal data of this customer.",
    serialize=_refuse_unguarded, parse_value=_refuse_input)


def reveal(user: User, personal: Personal | None) -> str | None:
    """The text of ``personal`` if ``user`` may see personal data of its customer's segment."""
    if personal is None:
        return None
    if not user.sees_personal_data_of(personal.segment):
        raise Forbidden(f"personal data of customers of segment {personal.segment} is hidden "
                        f"from a user with role {user.role}")
    return personal.value


class RevealPersonalData(FieldExtension):
    """Turn the field's ``Personal`` value into text for viewers allowed to see it."""

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info,
                **kwargs: Any) -> Any:
        return _reveal_any(info.context.user, next_(source, info, **kwargs))

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any,
                            info: Info, **kwargs: Any) -> Any:
        return _reveal_any(info.context.user, await next_(source, info, **kwargs))


def _reveal_any(user: User, value: Any) -> Any:
    if isinstance(value, list):
        return [reveal(user, item) for item in value]
    return reveal(user, value)


def personal_field(*, description: str | None = None, default: Any = None) -> Any:
    """A ``PersonalText`` field that reveals its value only to those who may see it; denied, the
    field is null and the response carries a FORBIDDEN error at its path."""
    return strawberry.field(description=description, default=default,
                            extensions=[RevealPersonalData()])
