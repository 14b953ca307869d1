"""Logging for servers whose stdout is the wire: everything goes to stderr, secrets are redacted."""

from __future__ import annotations

import logging
import os
import sys
from typing import Final

LEVEL_VARIABLE: Final = "DESKMCP_LOG_LEVEL"
DEFAULT_LEVEL: Final = "warning"
LEVELS: Final[dict[str, int]] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
MASK: Final = "***"


class RedactingFilter(logging.Filter):
    """Replaces every registered secret value in a finished log line, tracebacks included."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, value: str) -> None:
        if value:
            self._secrets.add(value)

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


redactor: Final = RedactingFilter()


def parse_level(value: str | None) -> int:
    """The logging level named by `value` (case-insensitive); `ValueError` names the choices."""
    name = (value or DEFAULT_LEVEL).strip().lower()
    if name not in LEVELS:
        msg = f"{LEVEL_VARIABLE} must be one of {', '.join(LEVELS)}, got {value!r}"
        raise ValueError(msg)
    return LEVELS[name]


def configure(level: int | None = None) -> None:
    """Send every log record to stderr through the secret redactor, at `level` or `DESKMCP_LOG_LEVEL`."""
    if level is None:
        level = parse_level(os.environ.get(LEVEL_VARIABLE))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("deskmcp %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDK logs every dropped notification at debug; keep it unless asked for.
    logging.getLogger("mcp").setLevel(max(level, logging.INFO))
    logging.captureWarnings(True)
