"""Keep the bot token out of logs.

The token is part of every Bot API URL (`https://api.telegram.org/bot<TOKEN>/sendMessage`). httpx
logs each request URL at INFO, PTB logs the base URL at DEBUG and puts the token into the message
of `InvalidToken`. So: httpx's logger goes to WARNING, and a filter on the loggers that can see the
URL replaces the token in every record (message, arguments and traceback) with `<token>`.
"""

from __future__ import annotations

import logging

# Loggers whose records can contain the request URL. Filters on a logger see only records logged
# on it (not its children), hence the explicit list.
_LOGGERS = (
    "httpx",
    "httpcore",
    "telegram",
    "telegram.Bot",
    "telegram.ext",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    "feedbot.telegram",
)
_tokens: set[str] = set()


def redact(text: str) -> str:
    for token in _tokens:
        text = text.replace(token, "<token>")
    return text


class _RedactToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = _RedactToken()


def protect_token(token: str) -> None:
    """Register `token` for redaction and install the filter (idempotent)."""
    if token:
        _tokens.add(token)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
