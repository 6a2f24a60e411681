"""Our own pace for Discord: discord.py reacts to 429s but does not pace the global limit (50
requests/s) in advance, and Discord warns against opening many DMs quickly."""

from __future__ import annotations

from bot.pacing import PaceRules


def pace_rules(per_second: float) -> PaceRules:
    return PaceRules(per_second=per_second)
