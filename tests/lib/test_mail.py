"""Mail: MODELYARD_EMAIL_URL parsing, the outbox backend, templated messages, real SMTP."""

from __future__ import annotations

import email
import email.policy
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage as Message
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from modelyard.config import ConfigError
from modelyard.lib.mail import (
    CONSOLE_BACKEND,
    OUTBOX_BACKEND,
    SMTP_BACKEND,
    OutboxBackend,
    email_settings,
    is_transient_failure,
    render_email,
    send,
)
from tests.fixtures.smtp import SmtpServer, free_port

HOME = Path("/srv/modelyard")
CONTEXT = {
    "name": "Alice",
    "model": "R&D <churn>",
    "version": 3,
    "url": "https://yard.example/m?a=1&b=2",
}
SUBJECT = "R&D <churn> version 3 is ready"


def smtp(
    host: str, port: int, *, user: str = "", password: str = "", **extra: Any
) -> dict[str, Any]:
    expected = {
        "EMAIL_BACKEND": SMTP_BACKEND,
        "EMAIL_HOST": host,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": user,
        "EMAIL_HOST_PASSWORD": password,
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 30.0,
    }
    return {**expected, **extra}


def body(message: Message, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    content: str = part.get_content()
    return content


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", smtp("mail.example.com", 25)),
        (
            "smtp://bot:pw@mail.example.com:2525",
            smtp("mail.example.com", 2525, user="bot", password="pw"),
        ),
        (
            "smtp://mail.example.com?tls=true&timeout=10",
            smtp("mail.example.com", 25, EMAIL_USE_TLS=True, EMAIL_TIMEOUT=10.0),
        ),
        (
            "smtp+tls://bot:pw@mail.example.com",
            smtp("mail.example.com", 587, user="bot", password="pw", EMAIL_USE_TLS=True),
        ),
        (
            "smtps://bot:pw@mail.example.com?timeout=2.5",
            smtp(
                "mail.example.com",
                465,
                user="bot",
                password="pw",
                EMAIL_USE_SSL=True,
                EMAIL_TIMEOUT=2.5,
            ),
        ),
        (
            "smtp+tls://me%40example.com:p%40ss%2Fw%3Ard%23%20x@mail.example.com:2587",
            smtp(
                "mail.example.com",
                2587,
                user="me@example.com",
                password="p@ss/w:rd# x",
                EMAIL_USE_TLS=True,
            ),
        ),
        ("console://", {"EMAIL_BACKEND": CONSOLE_BACKEND}),
        ("", {"EMAIL_BACKEND": OUTBOX_BACKEND, "MODELYARD_OUTBOX_DIR": HOME / "outbox"}),
        ("  ", {"EMAIL_BACKEND": OUTBOX_BACKEND, "MODELYARD_OUTBOX_DIR": HOME / "outbox"}),
        ("outbox://", {"EMAIL_BACKEND": OUTBOX_BACKEND, "MODELYARD_OUTBOX_DIR": HOME / "outbox"}),
        (
            "outbox:///var/mail/my%20box",
            {"EMAIL_BACKEND": OUTBOX_BACKEND, "MODELYARD_OUTBOX_DIR": Path("/var/mail/my box")},
        ),
    ],
)
def test_email_url_becomes_django_settings(url: str, expected: dict[str, Any]) -> None:
    assert email_settings(url, HOME) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("imap://u:hunter2@mail.example.com", "has scheme 'imap'"),
        ("mail.example.com", "has scheme ''"),
        ("smtp://u:hunter2@", "names no host"),
        ("smtp://u:hunter2@mail.example.com:port", "bad port"),
        ("smtp://u:hunter2@mail.example.com:99999", "bad port"),
        ("smtp://mail.example.com:0", "port 0"),
        ("smtp://mail.example.com?tls=maybe", "?tls='maybe' is not true or false"),
        ("smtp://mail.example.com?timeout=soon", "?timeout='soon' is not a positive number"),
        ("smtp://mail.example.com?timeout=0", "?timeout='0' is not a positive number"),
        ("smtp://mail.example.com?verify=no", "option 'verify' is not understood"),
        ("smtps://mail.example.com?tls=true", "'tls' is not understood with smtps://"),
        ("smtp+tls://mail.example.com?tls=false", "it accepts ?timeout="),
        ("outbox://relative/dir", "three slashes"),
        ("outbox:///tmp/out?keep=1", "accepts no options"),
    ],
)
def test_bad_email_url_is_named_and_explained(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^MODELYARD_EMAIL_URL") as caught:
        email_settings(url, HOME)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_unknown_scheme_error_lists_the_schemes() -> None:
    with pytest.raises(ConfigError) as caught:
        email_settings("smtpx://mail.example.com", HOME)
    assert "smtp://, smtp+tls://, smtps://, console://, outbox://" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "use_tls", "use_ssl"),
    [("smtp://h?tls=yes", True, False), ("smtp+tls://h", True, False), ("smtps://h", False, True)],
)
def test_smtp_settings_are_accepted_by_djangos_backend(
    settings: Any, url: str, use_tls: bool, use_ssl: bool
) -> None:
    for name, value in email_settings(url, HOME).items():
        setattr(settings, name, value)
    backend = get_connection()
    assert isinstance(backend, SmtpBackend)
    assert (backend.use_tls, backend.use_ssl, backend.timeout) == (use_tls, use_ssl, 30.0)


@pytest.fixture
def outbox(settings: Any, tmp_path: Path) -> Path:
    for name, value in email_settings("", tmp_path).items():
        setattr(settings, name, value)
    return tmp_path / "outbox"


def test_outbox_keeps_a_parseable_eml_and_prints_a_summary(
    outbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    send(render_email("test", CONTEXT, to=["alice@example.com", "bob@example.com"]))

    [path] = outbox.iterdir()  # and no temporary file left behind
    assert path.suffix == ".eml"
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == SUBJECT
    assert parsed["To"] == "alice@example.com, bob@example.com"
    assert "R&D <churn> version 3" in body(parsed, "plain")
    assert "R&amp;D &lt;churn&gt;" in body(parsed, "html")
    printed = capsys.readouterr().out
    assert printed == f"mail to alice@example.com, bob@example.com: {SUBJECT} -> {path}\n"


def test_outbox_file_names_sort_in_sending_order_and_never_collide(tmp_path: Path) -> None:
    backend = OutboxBackend(directory=tmp_path)
    times = [datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2030, 12, 1, tzinfo=UTC)]
    for number, moment in enumerate(sorted(times)):
        with time_machine.travel(moment, tick=False):
            for copy in range(2):
                message = EmailMessage(f"{number}-{copy}", "body", to=["a@example.com"])
                assert backend.send_messages([message]) == 1

    names = sorted(path.name for path in tmp_path.iterdir())
    assert len(names) == 4
    assert names[0].startswith("20301201T000000000000Z-")
    assert names[-1].startswith("20310102T030405000000Z-")


def test_outbox_reports_a_folder_it_cannot_write(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    message = EmailMessage("s", "b", to=["a@example.com"])

    with pytest.raises(OSError, match="File exists"):
        OutboxBackend(directory=not_a_folder).send_messages([message])
    # Only on request (mail_admins and Django's log handler ask), never by default.
    assert OutboxBackend(fail_silently=True, directory=not_a_folder).send_messages([message]) == 0


def test_outbox_without_a_folder_says_which_setting_to_set(settings: Any) -> None:
    settings.MODELYARD_OUTBOX_DIR = None
    with pytest.raises(ConfigError, match="set MODELYARD_OUTBOX_DIR"):
        OutboxBackend()


def test_render_email_builds_one_line_subject_and_two_bodies(settings: Any) -> None:
    message = render_email("test", CONTEXT, to=["alice@example.com"], headers={"X-Yard": "1"})

    assert message.subject == SUBJECT
    assert message.to == ["alice@example.com"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.extra_headers == {"X-Yard": "1"}
    # Text parts are not HTML: & and < stay as they are, while the HTML part escapes them.
    assert message.body == (
        "Hello Alice,\n\nR&D <churn> version 3 is ready:\nhttps://yard.example/m?a=1&b=2\n"
    )
    [(html, mimetype)] = message.alternatives
    assert isinstance(html, str)
    assert mimetype == "text/html"
    assert "<strong>R&amp;D &lt;churn&gt;</strong>" in html
    assert 'href="https://yard.example/m?a=1&amp;b=2"' in html


def test_render_email_prefers_a_template_overridden_in_the_project(
    settings: Any, tmp_path: Path
) -> None:
    override = tmp_path / "mail" / "test" / "subject.txt"
    override.parent.mkdir(parents=True)
    override.write_text("[yard] {{ model }} is out\n")
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [tmp_path, *engine["DIRS"]]}]

    message = render_email("test", CONTEXT, to=["alice@example.com"])

    assert message.subject == "[yard] R&D <churn> is out"
    assert message.body.startswith("Hello Alice,")  # not overridden: modelyard's own


def test_send_refuses_a_message_without_recipients(outbox: Path) -> None:
    with pytest.raises(ValueError, match="has no recipients"):
        send(render_email("test", CONTEXT, to=[]))


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (smtplib.SMTPRecipientsRefused({"a@example.com": (451, b"later")}), True),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}), False),
        (smtplib.SMTPDataError(452, b"mailbox full for now"), True),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (smtplib.SMTPServerDisconnected("gone"), True),
        (smtplib.SMTPNotSupportedError("no STARTTLS"), False),
        (ssl.SSLCertVerificationError("self-signed"), False),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (ValueError("bug"), False),
    ],
)
def test_transient_failures_are_told_apart_from_permanent_ones(
    error: BaseException, transient: bool
) -> None:
    assert is_transient_failure(error) is transient


@pytest.mark.integration
def test_smtp_delivers_subject_recipients_and_both_parts(
    smtp_settings: SmtpServer, mailoutbox: list[EmailMessage]
) -> None:
    message = render_email(
        "test",
        CONTEXT,
        to=["alice@example.com", "bob@example.com"],
        from_email="modelyard <modelyard@localhost>",
    )
    send(message)

    [received] = smtp_settings.wait_for(1)
    assert received.mail_from == "modelyard@localhost"
    assert received.rcpt_tos == ["alice@example.com", "bob@example.com"]
    assert received.message["Subject"] == SUBJECT
    assert received.message["To"] == "alice@example.com, bob@example.com"
    text = body(received.message, "plain")
    assert text == message.body
    html = body(received.message, "html")
    assert "<strong>R&amp;D &lt;churn&gt;</strong>" in html
    assert mailoutbox == []  # really sent over SMTP, not to pytest-django's locmem outbox


@pytest.mark.integration
def test_refusing_server_makes_send_raise(refusing_smtp: SmtpServer) -> None:
    with pytest.raises(smtplib.SMTPException) as caught:
        send(render_email("test", CONTEXT, to=["alice@example.com"]))

    assert refusing_smtp.refused == ["alice@example.com"]
    assert is_transient_failure(caught.value)


@pytest.mark.integration
def test_unreachable_server_raises_a_transient_error(settings: Any) -> None:
    for name, value in email_settings(f"smtp://127.0.0.1:{free_port()}?timeout=5", HOME).items():
        setattr(settings, name, value)

    with pytest.raises(ConnectionRefusedError) as caught:
        send(render_email("test", CONTEXT, to=["alice@example.com"]))

    assert is_transient_failure(caught.value)
