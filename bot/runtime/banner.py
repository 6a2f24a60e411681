"""The two lines `feedbot run` logs about itself: what it is starting, and what is running."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bot.config import Settings
from storage.urls import safe_url


def feedbot_version() -> str:
    try:
        return version("feedbot")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _platform(settings: Settings, name: str) -> str:
    if name == "telegram" and settings.telegram is not None:
        tg = settings.telegram
        if tg.mode == "webhook":
            return f"telegram (webhook {tg.webhook_url} -> {tg.listen}:{tg.port})"
        return "telegram (long polling)"
    return name


def starting_line(settings: Settings, config: Path) -> str:
    platforms = ", ".join(_platform(settings, p) for p in settings.platforms()) or "none"
    http = f"{settings.http.listen}:{settings.http.port}" if settings.http is not None else "off"
    return (
        f"feedbot {feedbot_version()} starting: config {config}, database {safe_url(settings.storage.url)}, "
        f"platforms {platforms}, health/metrics {http}"
    )


def ready_line(settings: Settings, platforms: Sequence[str], http_address: str | None) -> str:
    scheduled = sum(1 for p in settings.polls if p.schedule)
    digest = f"digest {settings.digest.schedule!r}" if settings.digest.schedule else "no scheduled digest"
    return (
        f"feedbot ready: platforms {', '.join(platforms) or 'none'}; {len(settings.polls)} poll(s), "
        f"{scheduled} scheduled; {digest}; health/metrics {http_address or 'off'}"
    )
