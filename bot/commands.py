"""Parsing of chat commands ("/poll@FeedBot weekly vip")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$", re.DOTALL)
TAG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

CUSTOMER_COMMANDS = frozenset({"start", "stop", "mydata", "forget", "privacy", "help"})
STAFF_COMMANDS = frozenset({"poll", "polls", "status"})
MANAGER_COMMANDS = frozenset({"digest", "goals"})


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
