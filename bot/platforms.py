"""The platform registry: each platform once, with what the rest of feedbot needs to know of it.

A platform is its settings section (bot.config: a `PlatformSettings` subclass, present = it runs),
an adapter factory (importing the SDK lazily, so bot/ never imports one otherwise), the chats its
scheduled digest goes to, and who counts as staff and managers there. Adding a platform is one
entry here, its section in bot.config, and its adapter in adapters/.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.config import AlertSettings, DiscordSettings, PlatformSettings, Settings, TelegramSettings
from bot.roles import PlatformRoles, RolePolicy
from bot.types import ChatRef

if TYPE_CHECKING:
    from bot.adapter import Adapter
    from bot.runtime.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    section: type[PlatformSettings]
    build: Callable[[Any, str, Settings, Metrics | None], Adapter]  # (section, token, settings, metrics)
    digest_chats: Callable[[Any], tuple[str, ...]]
    alert_chats: Callable[[AlertSettings], tuple[str, ...] | None]  # None: not set, the digest chats
    roles: Callable[[Any], PlatformRoles]


def _telegram(section: TelegramSettings, token: str, settings: Settings, metrics: Metrics | None) -> Adapter:
    from adapters.telegram import TelegramAdapter

    alerts = settings.alerts.telegram_chats or ()
    return TelegramAdapter(section, token, metrics=metrics, voices=settings.voice, alert_chats=alerts)


def _discord(section: DiscordSettings, token: str, settings: Settings, metrics: Metrics | None) -> Adapter:
    from adapters.discord import DiscordAdapter

    return DiscordAdapter(section, token, poll_ids=[p.id for p in settings.polls], voices=settings.voice)


PLATFORMS: tuple[Platform, ...] = (
    Platform(
        name="telegram",
        section=TelegramSettings,
        build=_telegram,
        digest_chats=lambda s: tuple(s.digest_chats),
        alert_chats=lambda a: a.telegram_chats,
        roles=lambda s: PlatformRoles(staff_ids=frozenset(s.staff), manager_ids=frozenset(s.managers)),
    ),
    Platform(
        name="discord",
        section=DiscordSettings,
        build=_discord,
        digest_chats=lambda s: tuple(s.digest_channels),
        alert_chats=lambda a: a.discord_channels,
        roles=lambda s: PlatformRoles(
            staff_ids=frozenset(s.staff),
            manager_ids=frozenset(s.managers),
            staff_roles=frozenset(s.staff_roles),
            manager_roles=frozenset(s.manager_roles),
            staff_role_ids=frozenset(s.staff_role_ids),
            manager_role_ids=frozenset(s.manager_role_ids),
        ),
    ),
)
BY_NAME: Mapping[str, Platform] = {platform.name: platform for platform in PLATFORMS}


def configured(settings: Settings) -> list[tuple[Platform, Any]]:
    """The platforms whose section is in the settings, with their section."""
    return [(BY_NAME[name], section) for name, section in settings.platform_sections().items()]


def role_policy(settings: Settings) -> RolePolicy:
    """Who is staff and manager on each configured platform (checked on every command)."""
    return RolePolicy({platform.name: platform.roles(section) for platform, section in configured(settings)})


def digest_chats(settings: Settings) -> list[ChatRef]:
    """Where the scheduled digest goes, on every configured platform."""
    return [
        ChatRef(platform.name, chat_id)
        for platform, section in configured(settings)
        for chat_id in platform.digest_chats(section)
    ]


def alert_chats(settings: Settings) -> list[ChatRef]:
    """Where problem answers and follow-ups are posted: `[alerts]`, else each platform's digest chats."""
    chats: list[ChatRef] = []
    for platform, section in configured(settings):
        chosen = platform.alert_chats(settings.alerts)
        ids = chosen if chosen is not None else platform.digest_chats(section)
        chats += [ChatRef(platform.name, chat_id) for chat_id in ids]
    return chats


def build_adapters(
    settings: Settings, environ: Mapping[str, str] | None = None, *, metrics: Metrics | None = None
) -> list[Adapter]:
    """One adapter per configured platform, its token read from `environ` (default the process's)."""
    env = os.environ if environ is None else environ
    return [
        platform.build(section, settings.token(platform.name, env), settings, metrics)
        for platform, section in configured(settings)
    ]
