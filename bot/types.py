"""Normalised, platform-neutral message types that travel between adapters and the engine.

All are frozen, slotted dataclasses; every datetime is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class InboundKind(StrEnum):
    TEXT = "text"  # a typed message (commands included)
    EDIT = "edit"  # an edited version of an earlier message (same message_id)
    CHOICE = "choice"  # a pressed button / picked choice; `choice` holds the value
    MEDIA = "media"  # photo, sticker, voice, file... anything that is not text
    BLOCKED = "blocked"  # the user blocked the bot / closed their DMs
    UNBLOCKED = "unblocked"  # the user unblocked the bot


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A storable address: enough to reach a private chat or a channel later."""

    platform: str
    chat_id: str
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    chat: ChatRef
    sender_id: str
    sender_name: str
    text: str
    message_id: str
    received_at: datetime
    is_private: bool = True
    kind: InboundKind = InboundKind.TEXT
    reply_to: str | None = None
    choice: str | None = None
    # The sender's roles as the adapter vouches for them (Discord: role ids held in a configured server,
    # and the configured role names resolved to those ids at start); used for staff checks.
    sender_roles: frozenset[str] = field(default_factory=frozenset)
    # False: from a place the operator did not configure (a Discord server not in guild_ids), where
    # nobody has staff or manager rights.
    trusted_place: bool = True
    language: str | None = None
    # The adapter's own handle for answering this message in place later (a Discord interaction
    # token), opaque to the engine: it travels with the replies through the outbox.
    reply_handle: str | None = None
    # The adapter's id for this very update where the message id is not enough (each edit of one
    # message is its own update); None: the message id identifies it.
    update_ref: str | None = None
    # The platform shows our answer to the sender alone, even in a shared channel (Discord's
    # ephemeral answers in a server): for the place rule, as good as a private chat.
    seen_by_sender_only: bool = False
    # Someone else's words passed on (Telegram's forward_origin): never taken as the sender's answer.
    forwarded: bool = False
    # Several messages sent as one (a Telegram album shares a media_group_id): one reply for them all.
    media_group: str | None = None

    @property
    def update_id(self) -> str:
        """Identifies this update for good: a redelivery has the same id, a new edit a new one."""
        if self.update_ref is not None:
            return self.update_ref
        if self.kind is InboundKind.EDIT:
            return f"{self.message_id}@{self.received_at.timestamp():.6f}"
        return self.message_id


@dataclass(frozen=True, slots=True)
class OpenQuestion:
    """A question sent and not answered yet, in a run still open: where an adapter whose platform does
    not replay missed messages (Discord) reads the chat's history from, after `message_id`."""

    chat: ChatRef
    message_id: str  # the platform's id of the question message


@dataclass(frozen=True, slots=True)
class Choice:
    """One button. `value` is at most 64 bytes (Telegram callback_data) and carries what it needs."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Image:
    filename: str
    data: bytes
    content_type: str = "image/png"


@dataclass(frozen=True, slots=True)
class QuestionRef:
    """Marks an Outbound as a poll question, so an adapter with richer UI can offer it.

    Discord renders an "Answer" button opening a modal; its submit comes back as an Inbound of kind
    TEXT with `choice = answer_choice(run_id, rating)`. Adapters without such UI ignore it.
    """

    run_id: int
    rating: bool
    scale: int
    language: str | None = None  # the language it is asked in: an adapter's own words around it follow it


@dataclass(frozen=True, slots=True)
class Outbound:
    """Plain text (no markup): adapters escape it for their platform's formatting.

    `reply_to` is the `message_id` of the Inbound this answers (a Telegram message id, a Discord
    interaction id), so an adapter can answer in place (ephemeral follow-up, reply quote).
    """

    chat: ChatRef
    text: str
    choices: tuple[Choice, ...] = ()
    reply_to: str | None = None
    image: Image | None = None
    question: QuestionRef | None = None
    reply_handle: str | None = None  # from the Inbound this answers (see Inbound.reply_handle)
    # Leading parts (of a message the platform takes in several) that arrived on an earlier attempt:
    # the adapter sends only the rest, and reports progress in DeliveryError.parts_sent.
    parts_sent: int = 0
    # A staff alert about this answer: an adapter with forms offers a Reply button (Discord); its
    # submit comes back as the text `/reply ANSWER_ID text`. Others ignore it (Telegram: reply to it).
    answer_id: int | None = None

    def with_numbered_choices(self) -> str:
        """Fallback rendering for a channel without buttons: choices become numbered text."""
        if not self.choices:
            return self.text
        if all(c.label.isdigit() for c in self.choices):
            return f"{self.text}\n[ {' | '.join(c.label for c in self.choices)} ]"
        lines = [self.text, ""]
        lines += [f"{i}. {c.label}" for i, c in enumerate(self.choices, 1)]
        return "\n".join(lines)


from bot.choices import FORGET_NO, FORGET_YES, answer_choice, rating_choice  # noqa: E402

__all__ = [
    "FORGET_NO",
    "FORGET_YES",
    "ChatRef",
    "Choice",
    "Image",
    "Inbound",
    "InboundKind",
    "Outbound",
    "QuestionRef",
    "answer_choice",
    "rating_choice",
]
