"""Telegram through python-telegram-bot: `client` (the adapter), `convert` (updates in, errors),
`render` (messages out), `limits` (Telegram's pace), `menus` (command menus), `redaction` (no token in logs)."""

from adapters.telegram.client import TelegramAdapter

__all__ = ["TelegramAdapter"]
