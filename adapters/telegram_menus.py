"""The command menus Telegram shows (setMyCommands): customers everywhere, staff and managers in their chats.

A scope for one chat fails with "chat not found" until that person has opened the bot, so a refused
menu is kept and set again the next time that chat writes to the bot.
"""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
)
from telegram.error import TelegramError

from adapters.telegram_logging import redact
from bot.commands import CUSTOMER_COMMANDS, MANAGER_COMMANDS, STAFF_COMMANDS
from bot.config import TelegramSettings

log = logging.getLogger("feedbot.telegram")

# In display order (bot.commands holds the same names as sets; a test keeps them in step).
COMMANDS: dict[str, str] = {
    "start": "Subscribe to the occasional feedback question",
    "stop": "Stop receiving questions",
    "mydata": "See everything stored about you",
    "forget": "Erase everything stored about you",
    "privacy": "What is stored about you and why",
    "help": "What this bot does",
    "poll": "Ask a poll now: /poll POLL_ID [tag]",
    "polls": "Configured polls and their next times",
    "status": "Progress of a poll run: /status [RUN]",
    "digest": "Results against goals: /digest [day|week|month]",
    "goals": "Goal status now",
}
CUSTOMER_MENU = tuple(c for c in COMMANDS if c in CUSTOMER_COMMANDS)
STAFF_MENU = CUSTOMER_MENU + tuple(c for c in COMMANDS if c in STAFF_COMMANDS)
MANAGER_MENU = STAFF_MENU + tuple(c for c in COMMANDS if c in MANAGER_COMMANDS)
GROUP_MENU = ("help",)  # customer commands only answer "message me privately" in groups
TEAM_GROUP_MENU = ("help",) + MANAGER_MENU[len(CUSTOMER_MENU) :]


def native_chat_id(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


def _commands(names: tuple[str, ...]) -> list[BotCommand]:
    return [BotCommand(name, COMMANDS[name]) for name in names]


class CommandMenus:
    def __init__(self, settings: TelegramSettings) -> None:
        self.settings = settings
        self.pending: dict[str, tuple[str, ...]] = {}  # chat id -> menu Telegram refused so far

    def scoped(self) -> dict[str, tuple[str, ...]]:
        """Chat id -> menu for staff, managers (their private chats: chat id = user id) and team groups."""
        chats: dict[str, tuple[str, ...]] = {}
        for user_id in self.settings.staff:
            chats[user_id] = STAFF_MENU
        for user_id in self.settings.managers:
            chats[user_id] = MANAGER_MENU
        for chat_id in self.settings.digest_chats:
            chats[chat_id] = TEAM_GROUP_MENU
        return chats

    async def register(self, bot: Bot) -> None:
        """Set every menu; failures are logged, never fatal (a menu is a convenience)."""
        general: list[tuple[BotCommandScope, tuple[str, ...]]] = [
            (BotCommandScopeDefault(), CUSTOMER_MENU),
            (BotCommandScopeAllGroupChats(), GROUP_MENU),
        ]
        for scope, names in general:
            try:
                await bot.set_my_commands(_commands(names), scope=scope)
            except TelegramError as exc:
                log.warning("setMyCommands (%s) failed: %s", scope.type, redact(exc.message))
        for chat_id, names in self.scoped().items():
            self.pending[chat_id] = names
            if not await self.register_pending(bot, chat_id):
                log.warning("setMyCommands for chat %s failed (set when that chat next writes to the bot)", chat_id)

    async def register_pending(self, bot: Bot, chat_id: str) -> bool:
        names = self.pending.get(chat_id)
        if names is None:
            return True
        try:
            await bot.set_my_commands(_commands(names), scope=BotCommandScopeChat(native_chat_id(chat_id)))
        except TelegramError as exc:
            log.debug("setMyCommands for chat %s failed: %s", chat_id, redact(exc.message))
            return False
        del self.pending[chat_id]
        return True
