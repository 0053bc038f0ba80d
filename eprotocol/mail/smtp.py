"""Delivering email over SMTP with the standard library.

The only module that talks SMTP; its errors become
:class:`~eprotocol.core.errors.MailUnavailable` here.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate

from eprotocol.config import SmtpConfig
from eprotocol.core.errors import MailUnavailable
from eprotocol.core.ports import Mail


class SmtpMailer:
    """A :class:`~eprotocol.core.ports.Mailer` sending through one SMTP server."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    def compose(self, mail: Mail) -> EmailMessage:
        """The MIME message: plain text with an HTML alternative, UTF-8, Greek subject encoded."""
        message = EmailMessage()
        message["From"] = self._config.sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = mail.message_id
        message.set_content(mail.text, charset="utf-8")
        message.add_alternative(mail.html, subtype="html", charset="utf-8")
        return message

    def send(self, mail: Mail) -> None:
        """Deliver one message (one connection per message keeps failures independent)."""
        config = self._config
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
                if config.starttls:
                    smtp.starttls()
                if config.username is not None:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(self.compose(mail))
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUnavailable(
                f"mail server {config.host}:{config.port} did not take the message: {exc}"
            ) from exc
