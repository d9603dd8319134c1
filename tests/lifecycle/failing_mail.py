"""An email backend whose server refuses everything, as an SMTP server that is down does."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage


class Backend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise smtplib.SMTPServerDisconnected("refused: the server is down")
