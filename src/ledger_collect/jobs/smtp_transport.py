"""Handing a message to the mail server (``Settings.smtp_*``), and what its answer means.

The outcome is only ever what the server said: accepted (every recipient, or some: the others
it refused, each with its reply), refused for good (a 5xx to the message, or to every
recipient), or not known yet. Anything transient — the server unreachable, a time-out, a 4xx,
the TLS handshake or the login failing (a configuration fault, not the email's) — raises
``TransientDeliveryError``: nothing is to be recorded, the job is tried again.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from ledger_collect.config import Settings

SECURITY_PORTS = {"none": 25, "starttls": 587, "tls": 465}


class TransientDeliveryError(Exception):
    """The server could not be reached, or put the message off (4xx): try again later."""


@dataclass(frozen=True)
class Delivery:
    """The server's answer: ``refused`` recipients (address → its reply) and, for a message
    refused as a whole, ``error`` (the reply)."""

    refused: dict[str, str] = field(default_factory=dict)
    error: str | None = None


#: The longest server reply kept (a reply is recorded, and a record's text has a limit).
MAX_REPLY = 500


def _reply(code: int, text: bytes | str) -> str:
    """A server reply as one line of printable text, at most ``MAX_REPLY`` characters: what
    the server says must never keep its answer from being recorded."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    line = " ".join(f"{code} {text}".split())
    return "".join(c if c.isprintable() else "?" for c in line)[:MAX_REPLY]


def _client(settings: Settings) -> smtplib.SMTP:
    security = settings.smtp_security
    if security not in SECURITY_PORTS:
        raise ValueError(f"LEDGER_SMTP_SECURITY is {security!r}; it must be one of "
                         f"{', '.join(SECURITY_PORTS)}")
    port = settings.smtp_port or SECURITY_PORTS[security]
    tls = ssl.create_default_context(
        cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None)
    if security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, port,
                                                timeout=settings.smtp_timeout, context=tls)
    else:
        client = smtplib.SMTP(settings.smtp_host, port, timeout=settings.smtp_timeout)
    try:
        client.ehlo()
        if security == "starttls":
            client.starttls(context=tls)
            client.ehlo()
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password or "")
    except BaseException:
        client.close()
        raise
    return client


def deliver(settings: Settings, message: EmailMessage, recipients: Sequence[str]) -> Delivery:
    """Send ``message`` to ``recipients`` (the envelope: to, cc and bcc) from
    ``settings.smtp_from``; the server's answer, or ``TransientDeliveryError``."""
    port = settings.smtp_port or SECURITY_PORTS.get(settings.smtp_security)
    where = f"{settings.smtp_host}:{port}"
    try:
        with _client(settings) as client:
            refused = client.send_message(message, from_addr=settings.smtp_from,
                                          to_addrs=list(recipients))
    except smtplib.SMTPRecipientsRefused as error:  # every recipient refused
        replies = error.recipients
        if any(code < 500 for code, _ in replies.values()):
            raise TransientDeliveryError(f"{where} put every recipient off") from error
        return Delivery(refused={a: _reply(c, t) for a, (c, t) in replies.items()})
    except smtplib.SMTPAuthenticationError as error:
        raise TransientDeliveryError(f"{where} refused the login: "
                                     f"{_reply(error.smtp_code, error.smtp_error)}") from error
    except smtplib.SMTPResponseException as error:  # the sender, the data, a command
        reply = _reply(error.smtp_code, error.smtp_error)
        if 500 <= error.smtp_code < 600:
            return Delivery(error=reply)
        raise TransientDeliveryError(f"{where} answered {reply}") from error
    except (smtplib.SMTPException, OSError) as error:  # unreachable, time-out, TLS, no STARTTLS
        raise TransientDeliveryError(f"{where} could not take the message: {error}") from error
    return Delivery(refused={a: _reply(c, t) for a, (c, t) in refused.items()})
