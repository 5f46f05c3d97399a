"""The loopback SMTP server of the tests: ``bench.smtp`` (the bench needs it too)."""

from bench.smtp import HOST, ReceivedMessage, SmtpServer, free_port

__all__ = ["HOST", "ReceivedMessage", "SmtpServer", "free_port"]
