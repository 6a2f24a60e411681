"""Discord through discord.py: `client` (the adapter), `convert` (events in, errors), `render`
(messages, buttons and the answer form out), `limits` (our pace), `commands` (slash commands)."""

from adapters.discord.client import DiscordAdapter

__all__ = ["DiscordAdapter"]
