"""Logging set-up: plain text (the default) or one JSON object a line (`--log-format json`).

In JSON, the ids a log call names become fields: `log.info("inbound platform=%s chat=%s user=%s", ...)`
gives {"platform": ..., "chat_id": ..., "user_id": ...}, read from the call's own format string (never
from the rendered message, which may quote a customer); values passed with `extra=` become fields too.
Every line, in either format, has each registered secret (the bot tokens) replaced by `<token>`.
Customer text is logged by the engine at DEBUG only (`--verbose`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that are chatty at INFO, or log request URLs (Telegram's contain the token).
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "telegram",
    "discord",
    "apscheduler",
    "aiosqlite",
    "asyncio",
    "alembic",
    "aiohttp",
)
# `key=%s` in a format string: the key names the argument that fills the placeholder.
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
_KEY_BEFORE = re.compile(r"(\w+)=$")
_FIELD_NAMES = {"chat": "chat_id", "user": "user_id", "msg": "message_id"}
_RECORD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}

_secrets: set[str] = set()


def protect(secrets: Iterable[str]) -> None:
    """Never print these (tokens) in any log line."""
    _secrets.update(s for s in secrets if s and len(s) >= 4)


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "<token>")
    return text


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def call_fields(record: logging.LogRecord) -> dict[str, object]:
    """`key=value` pairs named by the log call's format string, plus the values given with `extra=`."""
    fields: dict[str, object] = {}
    if isinstance(record.msg, str) and record.args:
        args = record.args
        position = 0
        for match in _PLACEHOLDER.finditer(record.msg):
            if match.group(0) == "%%":
                continue
            if match.group(1) is not None and isinstance(args, dict):
                key, value = match.group(1), args.get(match.group(1))
            elif isinstance(args, tuple) and position < len(args):
                before = _KEY_BEFORE.search(record.msg, 0, match.start())
                key, value = (before.group(1) if before else None), args[position]
                position += 1
            else:
                continue
            if key is not None:
                fields[_FIELD_NAMES.get(key, key)] = _jsonable(value)
    for key, value in vars(record).items():
        if key not in _RECORD_ATTRS and not key.startswith("_"):
            fields[_FIELD_NAMES.get(key, key)] = _jsonable(value)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in call_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)


class RedactingTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(verbose: bool = False, log_format: LogFormat = "text") -> None:
    """Log to standard error; DEBUG with `verbose` (customer text included), else INFO."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else RedactingTextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
