"""Rules between the parts of a configuration: unique ids and names, schedules that fire, goal targets
in range for their metric and poll, and what Telegram's webhooks accept. Each rule returns problems."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.errors import ConfigError
from bot.runtime.cron import WallClockCronTrigger

if TYPE_CHECKING:
    from bot.config import (
        DiscordSettings,
        GoalSettings,
        HttpSettings,
        PollSettings,
        TelegramSettings,
        Validation,
    )

WEBHOOK_PORTS = (443, 80, 88, 8443)  # the only ports Telegram's setWebhook accepts


def validate_cron(expr: str, timezone: str = "UTC") -> str:
    if len(expr.split()) != 5:
        raise ValueError(f"invalid cron expression {expr!r}: expected 5 fields (minute hour day month weekday)")
    try:
        trigger = WallClockCronTrigger(expr, ZoneInfo(timezone))
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from exc
    if trigger.next_after(datetime.now(UTC)) is None:
        raise ValueError(f"cron expression {expr!r} never fires")
    return expr


def _schedule_problems(out: Validation, engine_tz: str) -> list[ConfigError]:
    problems = []
    seen: set[str] = set()
    for i, poll in out.lists["polls"]:
        if poll.id in seen:
            problems.append(ConfigError(f"polls[{i}].id", f"duplicate poll id {poll.id!r}"))
        seen.add(poll.id)
        if poll.schedule is not None:
            try:
                validate_cron(poll.schedule, poll.timezone or engine_tz)
            except ValueError as exc:
                problems.append(ConfigError(f"polls[{i}].schedule", str(exc)))
        if poll.remind_after is not None and poll.remind_after >= poll.close_after:
            problems.append(ConfigError(f"polls[{i}].remind_after", "must be shorter than close_after"))
    digest = out.sections.get("digest")
    if digest is not None and digest.schedule is not None:
        try:
            validate_cron(digest.schedule, digest.timezone or engine_tz)
        except ValueError as exc:
            problems.append(ConfigError("digest.schedule", str(exc)))
    return problems


def _goal_problems(i: int, goal: GoalSettings, polls: list[PollSettings]) -> list[ConfigError]:
    key, target = f"goals[{i}].target", goal.target
    if goal.metric == "response_rate":
        if 0 < target < 1:
            return [
                ConfigError(
                    key, f"a response rate is a percent (1-100), got {target:g}; did you mean {target * 100:g}?"
                )
            ]
        if not 1 <= target <= 100:
            return [ConfigError(key, f"a response rate is a percent between 1 and 100, got {target:g}")]
    elif goal.metric == "nps":
        if not any(p.scale == 10 for p in polls):
            return [ConfigError(f"goals[{i}].metric", "'nps' needs a poll with scale = 10")]
        if not -100 <= target <= 100:
            return [ConfigError(key, f"an NPS lies between -100 and 100, got {target:g}")]
    elif goal.metric == "answers":
        if target < 1 or target != int(target):
            return [ConfigError(key, f"answers is a count: expected a whole number of 1 or more, got {target:g}")]
    else:  # average_rating
        rated = [p for p in polls if p.rating]
        if polls and not rated:
            return [ConfigError(f"goals[{i}].metric", "'average_rating' needs a poll with rating = true")]
        low, high = (0, 10) if any(p.scale == 10 for p in rated) else (1, 5)
        if not low <= target <= high:
            scale = "0-10" if high == 10 else "1-5"
            return [
                ConfigError(
                    key, f"an average rating on the {scale} scale lies between {low} and {high}, got {target:g}"
                )
            ]
    return []


def cross_problems(out: Validation) -> list[ConfigError]:
    engine = out.sections.get("engine")
    problems = _schedule_problems(out, engine.timezone if engine is not None else "UTC")
    polls = {poll.id: poll for _, poll in out.lists["polls"]}
    for i, goal in out.lists["goals"]:
        if goal.poll is not None and goal.poll not in polls:
            problems.append(ConfigError(f"goals[{i}].poll", f"no poll with id {goal.poll!r}"))
            continue
        problems += _goal_problems(i, goal, [polls[goal.poll]] if goal.poll else list(polls.values()))
    names: dict[str, int] = {}
    for i, theme in out.lists["themes"]:
        folded = theme.name.casefold()
        if folded in names:
            problems.append(
                ConfigError(f"themes[{i}].name", f"duplicate theme name {theme.name!r} (also themes[{names[folded]}])")
            )
        names.setdefault(folded, i)
    problems += _port_problems(out.sections.get("telegram"), out.sections.get("http"))
    problems += _discord_role_problems(out.sections.get("discord"))
    default = engine.language if engine is not None else "en"
    for i, poll in out.lists["polls"]:
        if isinstance(poll.question, dict) and default not in poll.question:
            problems.append(
                ConfigError(
                    f"polls[{i}].question",
                    f'no question in {default!r}, the default language ([engine] language): add {default} = "..."',
                )
            )
    problems += _alert_problems(out)
    return problems


def _alert_problems(out: Validation) -> list[ConfigError]:
    """Alert chats on a platform that is not configured would never be posted to: say so."""
    alerts = out.sections.get("alerts")
    if alerts is None:
        return []
    problems = []
    for key, platform in (("telegram_chats", "telegram"), ("discord_channels", "discord")):
        if getattr(alerts, key) and out.sections.get(platform) is None:
            problems.append(
                ConfigError(f"alerts.{key}", f"set, but there is no [{platform}] section to post them with")
            )
    return problems


def _discord_role_problems(discord: DiscordSettings | None) -> list[ConfigError]:
    """Roles count only in the servers of guild_ids (anyone can create a role named "Staff" in theirs)."""
    if discord is None or discord.guild_ids:
        return []
    keys = ("staff_role_ids", "manager_role_ids", "staff_roles", "manager_roles")
    return [
        ConfigError(f"discord.{key}", "roles count only in the servers of guild_ids: set guild_ids to your server's id")
        for key in keys
        if getattr(discord, key)
    ]


def webhook_url_problem(url: str | None) -> str | None:
    """What Telegram's setWebhook would refuse about `url`, or None."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if not url:
        return "required when mode = 'webhook'"
    if parts.scheme != "https" or not parts.hostname:
        return f"Telegram posts to public https:// URLs only, got {url!r}"
    try:
        port = parts.port or 443
    except ValueError:
        port = -1
    if port not in WEBHOOK_PORTS:
        return f"Telegram accepts the ports {', '.join(map(str, WEBHOOK_PORTS))} only, got {url!r}"
    return None


def _port_problems(telegram: TelegramSettings | None, http: HttpSettings | None) -> list[ConfigError]:
    if telegram is None or telegram.mode != "webhook" or http is None:
        return []
    if http.port == telegram.port and http.listen == telegram.listen:
        where = f"{telegram.listen}:{telegram.port}"
        return [ConfigError("http.port", f"the Telegram webhook already listens on {where}")]
    return []
