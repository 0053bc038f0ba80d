"""Delivering email over SMTP with the standard library.

The only module that talks SMTP; its errors become
:class:`~eprotocol.core.errors.MailUnavailable` here.
"""

from __future__ import annotations

import contextlib
import smtplib
import threading
from email.message import EmailMessage
from email.utils import formatdate

from eprotocol.config import SmtpConfig
from eprotocol.core.errors import MailUnavailable
from eprotocol.core.ports import Mail


class SmtpMailer:
    """A :class:`~eprotocol.core.ports.Mailer` sending through one SMTP server.

    The connection is kept open between messages (a digest run sends hundreds)
    and reopened after any failure; :meth:`close` ends it.
    """

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._smtp: smtplib.SMTP | None = None

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

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        if config.starttls:
            smtp.starttls()
        if config.username is not None:
            smtp.login(config.username, config.password or "")
        return smtp

    def send(self, mail: Mail) -> None:
        """Deliver one message; any failure drops the connection so the next try starts afresh."""
        config = self._config
        with self._lock:
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                self._smtp.send_message(self.compose(mail))
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                raise MailUnavailable(
                    f"mail server {config.host}:{config.port} did not take the message: {exc}"
                ) from exc

    def _drop(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        """End the connection to the mail server, if one is open."""
        with self._lock:
            if self._smtp is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    self._smtp.quit()
            self._drop()
