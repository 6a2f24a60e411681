"""Telegram's send limits, as pace rules for bot.pacing."""

from __future__ import annotations

from bot.pacing import PaceRules

# Telegram's bot FAQ: about 30 messages a second overall (we keep below), one a second in a private
# chat, 20 a minute in a group.
PRIVATE_GAP = 1.0
GROUP_PER_MINUTE = 20


def pace_rules(per_second: float) -> PaceRules:
    return PaceRules(per_second=per_second, private_gap=PRIVATE_GAP, group_per_minute=GROUP_PER_MINUTE)


def is_private_chat(chat_id: str) -> bool:
    """Private chats have the user's (positive) id; groups, supergroups and channels are negative."""
    return chat_id.isdigit()
