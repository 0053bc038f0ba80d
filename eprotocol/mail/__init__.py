"""Mail adapters: SMTP delivery of digests."""

from eprotocol.mail.smtp import SmtpMailer

__all__ = ["SmtpMailer"]
