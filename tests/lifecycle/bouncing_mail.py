"""An email backend that rejects alice@example.com for good (550) and delivers the rest."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence

from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.mail.message import EmailMessage


class Backend(EmailBackend):
    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        for message in messages:
            if "alice@example.com" in message.to:
                raise smtplib.SMTPRecipientsRefused({"alice@example.com": (550, b"no such user")})
        mail.outbox.extend(messages)
        return len(messages)
