"""feedbot's slash commands, built from the command registry (bot.commands): each becomes the text
of the chat command ("/poll weekly vip") and goes to the engine like a typed one, so roles,
validation and replies live in one place (bot/).

Descriptions are in `[engine] language`, with `description_localizations` for every Discord locale
feedbot has texts in (discord.py asks the tree's `Translator` for them when it syncs)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import discord
from discord import app_commands

from bot.commands import CommandRegistry, CommandSpec, Option, Place
from bot.i18n import Voice, supported
from bot.roles import Role
from bot.texts import Text

# Staff and manager commands are hidden from ordinary members (a server's owner can grant them to
# roles under Server Settings -> Integrations). Hiding is not the check: the engine checks the
# role, and the adapter the server, on every call.
TEAM_PERMISSIONS = discord.Permissions(manage_guild=True)

# (interaction, command text such as "/poll weekly vip") -> None
SlashHandler = Callable[[discord.Interaction, str], Awaitable[None]]
# Whether an interaction comes from a place we trust (a DM, or a server of guild_ids).
Trusted = Callable[[discord.Interaction], bool]


def command_text(name: str, *args: object) -> str:
    words = [str(a).strip() for a in args if a is not None and str(a).strip()]
    return " ".join([f"/{name}", *words])


def personal(registry: CommandRegistry) -> frozenset[str]:
    """Commands about the caller's own subscription: handled in their DM even when used in a server."""
    return frozenset(spec.name for spec in registry if spec.place is Place.PRIVATE)


def _annotation(option: Option) -> Any:
    if option.choices:
        kind: Any = Literal[option.choices]
    elif option.kind == "integer":
        kind = app_commands.Range[int, option.minimum, option.maximum]
    else:
        kind = str
    return kind if option.required else kind | None


def _command(
    spec: CommandSpec, handle: SlashHandler, poll_ids: Sequence[str], say: Voice, trusted: Trusted
) -> app_commands.Command[Any, ..., None]:
    """A slash command whose typed options are `spec.options`, in order, as the words of the text command."""

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await handle(interaction, command_text(spec.name, *(values.get(o.name) for o in spec.options)))

    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter("interaction", positional, annotation=discord.Interaction)]
    for option in spec.options:
        default = inspect.Parameter.empty if option.required else None
        parameters.append(inspect.Parameter(option.name, positional, annotation=_annotation(option), default=default))
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        o.name: app_commands.locale_str(say(o.description)[:100], text=o.description) for o in spec.options
    }
    callback.__qualname__ = callback.__name__ = f"slash_{spec.name}"
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=spec.name, description=app_commands.locale_str(say(spec.menu)[:100], text=spec.menu), callback=callback
    )
    if spec.role > Role.CUSTOMER:
        command.default_permissions = TEAM_PERMISSIONS
    for option in spec.options:
        if option.suggest_polls:

            async def suggest(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
                if not trusted(interaction):  # our poll ids are nobody's business in other servers
                    return []
                wanted = current.strip().lower()
                return [app_commands.Choice(name=p, value=p) for p in poll_ids if wanted in p.lower()][:25]

            command.autocomplete(option.name)(suggest)
    return command


class Descriptions(app_commands.Translator):
    """Command descriptions in each Discord locale we have texts for (none: Discord shows the default)."""

    def __init__(self, voices: Callable[[str | None], Voice], default: str) -> None:
        self._voices = voices
        self._default = default

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        text = string.extras.get("text")
        language = supported(locale.value)
        if not isinstance(text, Text | str) or language is None or language == self._default:
            return None
        return self._voices(language)(text)[:100]


def build_tree(
    client: discord.Client,
    handle: SlashHandler,
    poll_ids: Sequence[str],
    registry: CommandRegistry,
    say: Voice,
    trusted: Trusted,
) -> app_commands.CommandTree:
    """`say`: the default language of the descriptions (`Descriptions` gives the others)."""
    tree = app_commands.CommandTree(client)
    for spec in registry:
        tree.add_command(_command(spec, handle, poll_ids, say, trusted))
    return tree
