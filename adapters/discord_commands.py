"""feedbot's slash commands: each becomes the text of the chat command ("/poll weekly vip") and goes
to the engine like a typed one, so roles, validation and replies live in one place (bot/)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

import discord
from discord import app_commands

# (interaction, command text such as "/poll weekly vip") -> None
SlashHandler = Callable[[discord.Interaction, str], Awaitable[None]]

# Commands about the caller's own subscription: handled in their DM even when used in a server.
PERSONAL = frozenset({"start", "stop", "mydata", "forget"})


def command_text(name: str, *args: object) -> str:
    words = [str(a).strip() for a in args if a is not None and str(a).strip()]
    return " ".join([f"/{name}", *words])


def build_tree(client: discord.Client, handle: SlashHandler, poll_ids: Sequence[str]) -> app_commands.CommandTree:
    tree = app_commands.CommandTree(client)

    @tree.command(name="start", description="Subscribe to the occasional feedback question")
    @app_commands.describe(tag="A start code you were given (optional)")
    async def start(interaction: discord.Interaction, tag: str | None = None) -> None:
        await handle(interaction, command_text("start", tag))

    @tree.command(name="stop", description="Stop receiving questions")
    async def stop(interaction: discord.Interaction) -> None:
        await handle(interaction, "/stop")

    @tree.command(name="mydata", description="See everything stored about you")
    async def mydata(interaction: discord.Interaction) -> None:
        await handle(interaction, "/mydata")

    @tree.command(name="forget", description="Erase everything stored about you")
    async def forget(interaction: discord.Interaction) -> None:
        await handle(interaction, "/forget")

    @tree.command(name="privacy", description="What is stored about you and why")
    async def privacy(interaction: discord.Interaction) -> None:
        await handle(interaction, "/privacy")

    @tree.command(name="help", description="What this bot does")
    async def help_(interaction: discord.Interaction) -> None:
        await handle(interaction, "/help")

    @tree.command(name="poll", description="Staff: ask a poll now")
    @app_commands.describe(poll_id="The poll to ask", tag="Only customers with this tag (optional)")
    async def poll(interaction: discord.Interaction, poll_id: str, tag: str | None = None) -> None:
        await handle(interaction, command_text("poll", poll_id, tag))

    @poll.autocomplete("poll_id")
    async def poll_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        wanted = current.strip().lower()
        return [app_commands.Choice(name=p, value=p) for p in poll_ids if wanted in p.lower()][:25]

    @tree.command(name="polls", description="Staff: the polls and their next times")
    async def polls(interaction: discord.Interaction) -> None:
        await handle(interaction, "/polls")

    @tree.command(name="status", description="Staff: progress of a run (the latest when left out)")
    @app_commands.describe(run="Run number (optional)")
    async def status(interaction: discord.Interaction, run: app_commands.Range[int, 1] | None = None) -> None:
        await handle(interaction, command_text("status", run))

    @tree.command(name="digest", description="Managers: results against the goals")
    @app_commands.describe(period="day, week or month (the configured period when left out)")
    async def digest(interaction: discord.Interaction, period: Literal["day", "week", "month"] | None = None) -> None:
        await handle(interaction, command_text("digest", period))

    @tree.command(name="goals", description="Managers: goal status now")
    async def goals(interaction: discord.Interaction) -> None:
        await handle(interaction, "/goals")

    return tree
