"""Outgoing mail: settings from one URL, templated messages, and the embedded outbox.

``MODELYARD_EMAIL_URL`` picks where mail goes (``email_settings``). Each email is a template
triplet under ``templates/mail/<name>/`` rendered by ``render_email`` and handed to ``send``.
With no URL configured, mail lands as ``.eml`` files in ``HOME/outbox`` and a line on stdout,
so ``modelyard up`` works, and shows its mail, without an SMTP server.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.template import Context, Engine

from modelyard.config import ConfigError

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
OUTBOX_BACKEND = "modelyard.lib.mail.OutboxBackend"
# Django's default is no timeout at all: one silent SMTP server would hold a worker forever.
DEFAULT_SMTP_TIMEOUT = 30.0
_EXAMPLE = "smtp+tls://user:password@mail.example.com"

_Parser = Callable[[SplitResult, Path], dict[str, Any]]


def email_settings(url: str, home: Path) -> dict[str, Any]:
    """Django's EMAIL_* settings (and MODELYARD_OUTBOX_DIR) for a MODELYARD_EMAIL_URL value.

    - ``smtp://user:password@host:port``: plain SMTP, port 25; ``?tls=true`` adds STARTTLS
    - ``smtp+tls://…``: STARTTLS, port 587; ``smtps://…``: implicit TLS, port 465
    - all three take ``?timeout=<seconds>`` (default 30); user and password are
      percent-decoded, so write ``@`` as ``%40`` and ``/`` as ``%2F``
    - ``console://``: print each message to stdout (Django's console backend)
    - empty or ``outbox://``: ``.eml`` files in ``home/outbox``; ``outbox:///abs/dir`` elsewhere

    Error messages never repeat the URL, which may hold a password.
    """
    url = url.strip()
    if not url:
        return _outbox_settings(home / "outbox")
    parsed = urlsplit(url)
    parser = _PARSERS.get(parsed.scheme)
    if parser is None:
        raise ConfigError(
            f"MODELYARD_EMAIL_URL has scheme {parsed.scheme!r}, which modelyard cannot send "
            f"mail with. Use one of {', '.join(f'{s}://' for s in _PARSERS)} "
            f"(e.g. {_EXAMPLE}), or leave it empty to keep mail in HOME/outbox."
        )
    return parser(parsed, home)


def _smtp_settings(
    parsed: SplitResult, home: Path, *, port: int, starttls: bool, implicit_tls: bool
) -> dict[str, Any]:
    if not parsed.hostname:
        raise ConfigError(f"MODELYARD_EMAIL_URL names no host; write it like {_EXAMPLE}.")
    # Only plain smtp:// may opt into STARTTLS; the other two schemes fix their TLS mode.
    fixed_tls = starttls or implicit_tls
    options = _query_options(parsed, ("timeout",) if fixed_tls else ("tls", "timeout"))
    return {
        "EMAIL_BACKEND": SMTP_BACKEND,
        "EMAIL_HOST": parsed.hostname,
        "EMAIL_PORT": _port(parsed, port),
        "EMAIL_HOST_USER": unquote(parsed.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
        "EMAIL_USE_TLS": starttls or _bool_option(options, "tls"),
        "EMAIL_USE_SSL": implicit_tls,
        "EMAIL_TIMEOUT": _timeout_option(options),
    }


def _console_settings(parsed: SplitResult, home: Path) -> dict[str, Any]:
    return {"EMAIL_BACKEND": CONSOLE_BACKEND}


def _outbox_url_settings(parsed: SplitResult, home: Path) -> dict[str, Any]:
    if parsed.netloc:
        # outbox://mail/out would silently mean host "mail", path "/out": refuse the guess.
        raise ConfigError(
            "MODELYARD_EMAIL_URL outbox:// takes an absolute folder after three slashes "
            "(outbox:///var/mail/modelyard), or nothing at all for HOME/outbox."
        )
    _query_options(parsed, ())
    path = unquote(parsed.path)
    return _outbox_settings(Path(path) if path else home / "outbox")


def _outbox_settings(directory: Path) -> dict[str, Any]:
    return {"EMAIL_BACKEND": OUTBOX_BACKEND, "MODELYARD_OUTBOX_DIR": directory}


_PARSERS: dict[str, _Parser] = {
    "smtp": partial(_smtp_settings, port=25, starttls=False, implicit_tls=False),
    "smtp+tls": partial(_smtp_settings, port=587, starttls=True, implicit_tls=False),
    "smtps": partial(_smtp_settings, port=465, starttls=False, implicit_tls=True),
    "console": _console_settings,
    "outbox": _outbox_url_settings,
}


def _port(parsed: SplitResult, default: int) -> int:
    try:
        port = parsed.port
    except ValueError as error:
        raise ConfigError(
            f"MODELYARD_EMAIL_URL has a bad port ({error}); use a number from 1 to 65535."
        ) from None
    if port == 0:
        raise ConfigError("MODELYARD_EMAIL_URL has port 0; use a number from 1 to 65535.")
    return default if port is None else port


def _query_options(parsed: SplitResult, allowed: Sequence[str]) -> dict[str, str]:
    options = dict(parse_qsl(parsed.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        accepted = ", ".join(f"?{name}=" for name in allowed) or "no options"
        raise ConfigError(
            f"MODELYARD_EMAIL_URL option {unknown[0]!r} is not understood with "
            f"{parsed.scheme}://; it accepts {accepted}."
        )
    return options


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool_option(options: dict[str, str], name: str) -> bool:
    raw = options.get(name, "").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise ConfigError(f"MODELYARD_EMAIL_URL ?{name}={raw!r} is not true or false.")
    return raw in _TRUE


def _timeout_option(options: dict[str, str]) -> float:
    raw = options.get("timeout", "").strip()
    if not raw:
        return DEFAULT_SMTP_TIMEOUT
    try:
        timeout = float(raw)
    except ValueError:
        timeout = 0.0
    if timeout <= 0:
        raise ConfigError(
            f"MODELYARD_EMAIL_URL ?timeout={raw!r} is not a positive number of seconds."
        )
    return timeout


class OutboxBackend(BaseEmailBackend):
    """Keeps each message as an RFC 822 ``.eml`` file and prints a line per message.

    The embedded default: nothing leaves the machine, yet every message can be read, opened
    in a mail client, or parsed by a test. Files are named by UTC time, so ``ls`` lists
    them in the order they were sent. The folder is ``directory`` if given, else the
    ``MODELYARD_OUTBOX_DIR`` setting.
    """

    def __init__(
        self, fail_silently: bool = False, directory: str | Path | None = None, **kwargs: Any
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        configured = directory or getattr(settings, "MODELYARD_OUTBOX_DIR", None)
        if not configured:
            raise ConfigError(
                "The outbox mail backend needs a folder: set MODELYARD_OUTBOX_DIR in the "
                "Django settings (email_settings() does this) or pass directory=."
            )
        self.directory = Path(configured)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue  # as Django's SMTP backend does: nobody to deliver to
            try:
                path = self._write(message)
            except OSError:
                # Django's contract: mail_admins() and the admin log handler ask for silence.
                if not self.fail_silently:
                    raise
                continue
            recipients = ", ".join(message.recipients())
            print(f"mail to {recipients}: {message.subject} -> {path}", flush=True)
            sent += 1
        return sent

    def _write(self, message: EmailMessage) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / _outbox_file_name()
        # A dot-file while writing, renamed into place: readers never see half a message.
        # mkstemp's 0600 mode stays on the .eml, which may hold signed links.
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(message.message().as_bytes())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target


def _outbox_file_name() -> str:
    # Microsecond UTC time sorts in sending order; the random tail keeps names unique
    # across threads and processes writing in the same microsecond.
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.eml"


def render_email(
    template: str,
    context: dict[str, Any],
    *,
    to: list[str],
    from_email: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMultiAlternatives:
    """Render ``mail/<template>/{subject.txt,body.txt,body.html}`` into one message.

    The subject is collapsed to one line. The text parts are rendered without HTML
    escaping (``&`` stays ``&``); the HTML part is escaped as usual and attached as the
    ``text/html`` alternative. ``from_email`` defaults to DEFAULT_FROM_EMAIL.

    Templates are looked up the Django way, through the configured template loaders: a
    template at the same path in a TEMPLATES ``DIRS`` folder listed first, or in an app
    listed earlier in INSTALLED_APPS, overrides modelyard's own.
    """
    subject = " ".join(_render(f"mail/{template}/subject.txt", context, html=False).split())
    text = _render(f"mail/{template}/body.txt", context, html=False)
    html = _render(f"mail/{template}/body.html", context, html=True)
    message = EmailMultiAlternatives(subject, text, from_email, to, headers=headers)
    message.attach_alternative(html, "text/html")
    return message


def _render(name: str, context: dict[str, Any], *, html: bool) -> str:
    return Engine.get_default().get_template(name).render(Context(context, autoescape=html))


def send(message: EmailMessage) -> None:
    """Send ``message`` through the configured backend; every failure is raised.

    SMTP refusals raise ``smtplib.SMTPException``; an unreachable server raises
    ``OSError`` (of which SMTPException is a subclass). Retrying is the caller's
    decision: ``is_transient_failure`` says whether a retry can help.
    """
    if not message.recipients():
        raise ValueError(f"Email {message.subject!r} has no recipients; pass to=[...].")
    get_connection(fail_silently=False).send_messages([message])


def is_transient_failure(error: BaseException) -> bool:
    """True when sending later may succeed: a 4xx reply, or no (or a lost) connection.

    5xx replies (no such mailbox, authentication rejected) and TLS failures repeat
    identically on every retry, so a task should record those instead of retrying.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(error, smtplib.SMTPException | ssl.SSLError):
        return False
    return isinstance(error, OSError)
