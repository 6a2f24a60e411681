"""Which shared chats the bot serves: the configured team chats (`digest_chats`) only.

Anyone can add a bot to their own group. A group that is not in the configuration is left at once
(`leaveChat`), with a log line naming who added the bot (ids only), and nothing from it reaches the
engine. In a team chat only our own commands get an answer (bot.engine and `convert` drop the rest).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType

log = logging.getLogger("feedbot.telegram")

_OUT = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


@dataclass(frozen=True, slots=True)
class Outsider:
    """A shared chat the bot is in without being configured for it."""

    chat_id: int
    added_by: int | None  # who added the bot, when the update says so


def outsider(update: Update, is_team_chat: Callable[[str], bool]) -> Outsider | None:
    """The unconfigured group, supergroup or channel this update comes from, or None."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE or is_team_chat(str(chat.id)):
        return None
    change = update.my_chat_member
    if change is not None:
        if change.new_chat_member.status in _OUT:
            return None  # removed already: nothing to leave
        return Outsider(chat.id, change.from_user.id)
    return Outsider(chat.id, None)


def log_leaving(found: Outsider) -> None:
    if found.added_by is not None:
        log.warning(
            "telegram: user %s added the bot to chat %s, which is in neither telegram.digest_chats nor "
            "alerts.telegram_chats: leaving it",
            found.added_by,
            found.chat_id,
        )
    else:
        log.warning(
            "telegram: update from chat %s, which is in neither telegram.digest_chats nor alerts.telegram_chats: "
            "leaving it",
            found.chat_id,
        )
