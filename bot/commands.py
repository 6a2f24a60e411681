"""Chat commands: parsing, and the one registry that describes each command once.

A `CommandSpec` holds a command's name, who may use it, where it may be used, its help line, its
menu text and its handler. The engine's dispatch and /help are built from `REGISTRY`; the platform
menus (Telegram's setMyCommands, Discord's slash commands) read it too.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot import texts
from bot.i18n import Voice
from bot.roles import Role
from bot.texts import Text
from bot.types import Choice, Image, Inbound, Outbound

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.effects import Decision
    from storage.customers import CustomerRecord
    from storage.store import Unit

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$", re.DOTALL)
TAG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...]


def parse_command(text: str) -> Command | None:
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    args = tuple((match.group(2) or "").split())
    return Command(name=match.group(1).lower(), args=args)


@dataclass(frozen=True, slots=True)
class Where:
    """Where a command was given, as the place rule sees it (the engine fills it in from the Inbound)."""

    private: bool  # a private chat with the bot
    seen_by_sender_only: bool  # the answer is shown to the sender alone (a Discord ephemeral answer)
    team_chat: bool  # one of the configured team chats (the digest chats)


class Place(StrEnum):
    """Where a command may be used; checked on every call, after the role, for every platform."""

    PRIVATE = "private"  # about the caller's own subscription: only in a private chat with the bot
    ANYWHERE = "anywhere"
    # Staff work and results (quoted customer answers): only where no outsider reads the answer, that
    # is a private chat with the bot, an answer only the sender sees, or a configured team chat.
    TEAM = "team"

    def allows(self, where: Where) -> bool:
        if self is Place.PRIVATE:
            return where.private
        if self is Place.TEAM:
            return where.private or where.seen_by_sender_only or where.team_chat
        return True


class Reporting(Protocol):
    """Digest and goal texts (bot.runtime wires bot.reporting.digest in); rendered outside the transaction.

    `language`: the reader's platform language (None: `[engine] language`).
    """

    async def digest(
        self, period: str, now: datetime, current: bool = False, language: str | None = None
    ) -> tuple[str, bytes | None]:
        """`current`: the period so far, against the same stretch of the one before; else the last complete one."""
        ...

    async def goals(self, now: datetime, language: str | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class PrepareContext:
    """What a command's `prepare` step sees: it runs before the transaction, for slow read-only work."""

    inbound: Inbound
    command: Command
    now: datetime
    settings: Settings
    reporting: Reporting | None


@dataclass(frozen=True, slots=True)
class CommandContext:
    """What a command handler sees, inside the message's transaction."""

    inbound: Inbound
    command: Command
    role: Role
    now: datetime
    settings: Settings
    unit: Unit
    customer: CustomerRecord | None
    registry: CommandRegistry
    say: Voice  # the caller's language (bot.i18n)
    prepared: Any = None

    def reply(self, text: str, choices: tuple[Choice, ...] = (), image: Image | None = None) -> Outbound:
        return Outbound(
            chat=self.inbound.chat,
            text=text,
            choices=choices,
            reply_to=self.inbound.message_id,
            image=image,
            reply_handle=self.inbound.reply_handle,
        )


@dataclass(frozen=True, slots=True)
class Option:
    """One argument of a command, for platforms with typed command forms (Discord's slash commands).

    Typed in chat, the arguments are words in this order; a form fills them in the same order.
    """

    name: str
    description: Text | str  # said in the default language, localized where the platform allows
    kind: Literal["text", "integer"] = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    suggest_polls: bool = False  # offer the configured poll ids while typing


Handler = Callable[[CommandContext], Awaitable["Decision"]]
Prepare = Callable[[PrepareContext], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    role: Role  # the least role that may use it
    place: Place
    # Texts (bot.texts) are said in the caller's language; a plain string is an English msgid.
    help: Text | str  # the /help line, after "/name usage – "
    menu: Text | str  # the platform menu's description
    handler: Handler
    usage: str = ""  # the arguments, as shown in /help ("POLL_ID [tag]")
    purpose: Text | str = ""  # for Place.PRIVATE in a group: "Please message me privately to {purpose}."
    prepare: Prepare | None = None
    options: tuple[Option, ...] = ()

    @property
    def signature(self) -> str:
        return f"/{self.name} {self.usage}".rstrip()


class CommandRegistry:
    def __init__(self, specs: Iterable[CommandSpec]) -> None:
        self._specs: dict[str, CommandSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"command /{spec.name} registered twice")
            self._specs[spec.name] = spec

    def __iter__(self) -> Iterator[CommandSpec]:
        return iter(self._specs.values())

    def get(self, name: str) -> CommandSpec | None:
        return self._specs.get(name)

    def names(self, role: Role) -> tuple[str, ...]:
        """Commands whose least role is exactly `role`, in registry order."""
        return tuple(s.name for s in self if s.role is role)

    def available_to(self, role: Role) -> tuple[CommandSpec, ...]:
        return tuple(s for s in self if s.role <= role)

    def with_commands(self, *specs: CommandSpec) -> CommandRegistry:
        return CommandRegistry([*self, *specs])

    def help_text(self, role: Role, say: Voice) -> str:
        lines = [f"{spec.signature} – {say(spec.help)}" for spec in self if spec.role is Role.CUSTOMER]
        text = say(texts.HELP_INTRO) + "\n\n" + "\n".join(lines)
        for level, label in ((Role.STAFF, texts.HELP_STAFF), (Role.MANAGER, texts.HELP_MANAGERS)):
            if role >= level:
                entries = " · ".join(f"{spec.signature} – {say(spec.help)}" for spec in self if spec.role is level)
                text += ("\n\n" if level is Role.STAFF else "\n") + say(label, commands=entries)
        return text


def default_registry() -> CommandRegistry:
    """Every command feedbot knows (handlers in bot.customer_commands and bot.staff)."""
    from bot.customer_commands import CUSTOMER_SPECS
    from bot.staff import STAFF_SPECS

    return CommandRegistry([*CUSTOMER_SPECS, *STAFF_SPECS])
