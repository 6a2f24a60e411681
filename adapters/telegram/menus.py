"""The command menus Telegram shows (setMyCommands): customers everywhere, staff and managers in their chats.

Each menu is set in the default language (`[engine] language`, no `language_code`) and once more with
`language_code` for every other language feedbot has texts in: Telegram shows a user the variant for
their app's language and the default otherwise.

A scope for one chat fails with "chat not found" until that person has opened the bot, so a refused
menu is kept and set again the next time that chat writes to the bot. Each chat menu set is remembered
(bot.adapter.ChatMemory); at start, the menus of chats that are no longer staff, managers or team chats
are deleted (deleteMyCommands), so a former manager's client stops offering /digest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
)
from telegram.error import TelegramError

from adapters.telegram.redaction import redact
from bot.adapter import ChatMemory
from bot.commands import CommandRegistry, default_registry
from bot.config import TelegramSettings
from bot.i18n import Voice, languages
from bot.roles import Role

log = logging.getLogger("feedbot.telegram")


@dataclass(frozen=True, slots=True)
class Menus:
    """The menus, in registry order (bot.commands describes every command once)."""

    descriptions: dict[str, str]  # in one language
    customer: tuple[str, ...]
    staff: tuple[str, ...]
    manager: tuple[str, ...]
    group: tuple[str, ...]  # customer commands only answer "message me privately" in groups
    team_group: tuple[str, ...]

    @classmethod
    def from_registry(cls, registry: CommandRegistry, say: Voice) -> Menus:
        customer = registry.names(Role.CUSTOMER)
        staff_only, manager_only = registry.names(Role.STAFF), registry.names(Role.MANAGER)
        return cls(
            descriptions={spec.name: say(spec.menu)[:256] for spec in registry},
            customer=customer,
            staff=customer + staff_only,
            manager=customer + staff_only + manager_only,
            group=("help",),
            team_group=("help", *staff_only, *manager_only),
        )

    def commands(self, names: tuple[str, ...]) -> list[BotCommand]:
        return [BotCommand(name, self.descriptions[name]) for name in names]


def native_chat_id(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


class CommandMenus:
    def __init__(
        self,
        settings: TelegramSettings,
        registry: CommandRegistry | None = None,
        voices: Callable[[str | None], Voice] | None = None,
    ) -> None:
        """`voices`: the texts for a language code (`Settings.voice`; None: the default language)."""
        self.settings = settings
        registry = registry or default_registry()
        voices = voices or (lambda code: Voice.choose(code, "en"))
        default = voices(None)
        self.menus = Menus.from_registry(registry, default)
        # language_code -> the menus in that language ("" is the default, for every other language)
        self.variants: dict[str, Menus] = {"": self.menus}
        for code in languages():
            if code != default.language:
                self.variants[code] = Menus.from_registry(registry, voices(code))
        self.pending: dict[str, tuple[str, ...]] = {}  # chat id -> menu Telegram refused so far
        self.memory: ChatMemory | None = None
        self._route: Callable[[str], str] = lambda chat_id: chat_id

    async def _set(self, bot: Bot, names: tuple[str, ...], scope: BotCommandScope) -> None:
        """One menu in every language; the first refusal is raised."""
        for code, menus in self.variants.items():
            await bot.set_my_commands(menus.commands(names), scope=scope, language_code=code or None)

    def scoped(self) -> dict[str, tuple[str, ...]]:
        """Chat id -> menu for staff, managers (their private chats: chat id = user id) and team groups."""
        chats: dict[str, tuple[str, ...]] = {}
        for user_id in self.settings.staff:
            chats[user_id] = self.menus.staff
        for user_id in self.settings.managers:
            chats[user_id] = self.menus.manager
        for chat_id in self.settings.digest_chats:
            chats[chat_id] = self.menus.team_group
        return chats

    async def register(self, bot: Bot, route: Callable[[str], str] | None = None) -> None:
        """Set every menu, delete the stale ones; failures are logged, never fatal (a menu is a convenience).

        `route`: where a configured chat id is now (a group that moved); raises only what `bot` raises
        for the general scopes when Telegram cannot be reached (the start is then retried).
        """
        if route is not None:
            self._route = route
        await self._delete_stale(bot)
        general: list[tuple[BotCommandScope, tuple[str, ...]]] = [
            (BotCommandScopeDefault(), self.menus.customer),
            (BotCommandScopeAllGroupChats(), self.menus.group),
        ]
        for scope, names in general:
            try:
                await self._set(bot, names, scope)
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
        scope = BotCommandScopeChat(native_chat_id(self._route(chat_id)))
        try:
            await self._set(bot, names, scope)
        except TelegramError as exc:
            log.debug("setMyCommands for chat %s failed: %s", chat_id, redact(exc.message))
            return False
        del self.pending[chat_id]
        await self._remember(chat_id, ",".join(names))
        return True

    async def _delete_stale(self, bot: Bot) -> None:
        """Chats that had a menu of their own and are no longer staff, managers or team chats lose it."""
        if self.memory is None:
            return
        current = self.scoped()
        for chat_id in await self.memory.menus("telegram"):
            if chat_id in current:
                continue
            try:
                await bot.delete_my_commands(scope=BotCommandScopeChat(native_chat_id(self._route(chat_id))))
            except TelegramError as exc:  # the chat is gone (left, blocked): nothing is shown there anyway
                log.debug("deleteMyCommands for chat %s failed: %s", chat_id, redact(exc.message))
            log.info("telegram: command menu of chat %s deleted (no longer staff, managers or a team chat)", chat_id)
            await self._remember(chat_id, None)

    async def _remember(self, chat_id: str, menu: str | None) -> None:
        if self.memory is None:
            return
        try:
            await self.memory.record_menu("telegram", chat_id, menu)
        except Exception as exc:
            log.warning("telegram: could not remember the menu of chat %s: %s", chat_id, exc)
