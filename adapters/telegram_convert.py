"""Conversions at the Telegram edge: PTB `Update` -> `Inbound`, `Outbound` -> the calls to make, and
PTB errors -> `DeliveryError`.

Kept free of I/O so they can be tested on their own. Text goes out as plain text (no parse_mode), so
customer text quoted in a message can never turn into markup.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import CallbackQuery, ChatMemberUpdated, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from adapters.telegram_logging import redact
from bot.errors import DeliveryError, MessageRejected, PlatformGone, RecipientUnreachable, TryLater
from bot.pacing import PaceRules
from bot.types import ChatRef, Choice, Image, Inbound, InboundKind, Outbound

PLATFORM = "telegram"
MAX_TEXT = 4096  # message text, in UTF-16 code units (how Telegram counts)
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
# The updates the adapter reads; anything else Telegram need not send.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")

# Telegram's bot FAQ: about 30 messages a second overall (we keep below), one a second in a private
# chat, 20 a minute in a group.
PRIVATE_GAP = 1.0
GROUP_PER_MINUTE = 20


def pace_rules(per_second: float) -> PaceRules:
    return PaceRules(per_second=per_second, private_gap=PRIVATE_GAP, group_per_minute=GROUP_PER_MINUTE)


def is_private_chat(chat_id: str) -> bool:
    """Private chats have the user's (positive) id; groups, supergroups and channels are negative."""
    return chat_id.isdigit()


# Bad requests that mean the chat is gone for good (others are our bugs: never "unreachable").
_PERMANENT_BAD_REQUESTS = (
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "user is deactivated",
    "bot was kicked",
    "not enough rights to send",
    "have no rights to send",
    "chat_write_forbidden",
)
_COMMAND_MENTION = re.compile(r"^(/[A-Za-z0-9_]+)@([A-Za-z0-9_]+)(.*)$", re.DOTALL)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------------------------------- inbound
def to_inbound(update: Update, bot_username: str, now: datetime) -> Inbound | None:
    """The Inbound for an update, or None when it is nothing the engine should see."""
    if update.message is not None:
        return _from_message(update.message, bot_username)
    if update.edited_message is not None:
        return _from_edit(update.edited_message, update.update_id)
    if update.callback_query is not None:
        return _from_callback(update.callback_query, now)
    if update.my_chat_member is not None:
        return _from_member_change(update.my_chat_member, update.update_id)
    return None


def _chat_ref(chat_id: int, user_id: int, private: bool) -> ChatRef:
    # Only a private chat is tied to one user; a group reply must never mark a user unreachable.
    return ChatRef(PLATFORM, str(chat_id), str(user_id) if private else None)


def strip_bot_mention(text: str, bot_username: str) -> str | None:
    """'/poll@FeedBot visit' -> '/poll visit'; None when the command is addressed to another bot."""
    match = _COMMAND_MENTION.match(text)
    if match is None:
        return text
    if match.group(2).lower() != bot_username.lower():
        return None
    return match.group(1) + match.group(3)


def _from_message(msg: Message, bot_username: str) -> Inbound | None:
    user = msg.from_user
    if user is None or user.is_bot:
        return None
    private = msg.chat.type == ChatType.PRIVATE
    if msg.text is not None:
        text: str | None = msg.text
        if msg.text.startswith("/"):
            text = strip_bot_mention(msg.text, bot_username)
        elif not private:
            text = None  # group chatter is none of our business (and privacy mode hides most of it)
        if text is None:
            return None
        kind = InboundKind.TEXT
    elif private and msg.effective_attachment is not None:
        text, kind = msg.caption or "", InboundKind.MEDIA
    else:
        return None  # service messages: members joining, pins, ...
    return Inbound(
        chat=_chat_ref(msg.chat.id, user.id, private),
        sender_id=str(user.id),
        sender_name=user.full_name,
        text=text,
        message_id=str(msg.message_id),
        received_at=msg.date,
        is_private=private,
        kind=kind,
        reply_to=str(msg.reply_to_message.message_id) if msg.reply_to_message else None,
        language=user.language_code,
    )


def _from_edit(msg: Message, update_id: int) -> Inbound | None:
    user = msg.from_user
    if user is None or user.is_bot or msg.text is None or msg.chat.type != ChatType.PRIVATE:
        return None
    return Inbound(
        chat=_chat_ref(msg.chat.id, user.id, True),
        sender_id=str(user.id),
        sender_name=user.full_name,
        text=msg.text,
        message_id=str(msg.message_id),
        received_at=msg.edit_date or msg.date,
        kind=InboundKind.EDIT,
        language=user.language_code,
        update_ref=f"edit-{update_id}",  # each edit of a message is its own update
    )


def _from_callback(query: CallbackQuery, now: datetime) -> Inbound | None:
    msg = query.message
    if query.data is None or msg is None:
        return None  # game buttons, or a message sent in inline mode (we send none)
    private = msg.chat.type == ChatType.PRIVATE
    return Inbound(
        chat=_chat_ref(msg.chat.id, query.from_user.id, private),
        sender_id=str(query.from_user.id),
        sender_name=query.from_user.full_name,
        text="",
        # The id of the message holding the keyboard: a second press on it is a duplicate.
        message_id=str(msg.message_id),
        received_at=now,
        is_private=private,
        kind=InboundKind.CHOICE,
        choice=query.data,
        language=query.from_user.language_code,
    )


def _from_member_change(change: ChatMemberUpdated, update_id: int) -> Inbound | None:
    if change.chat.type != ChatType.PRIVATE:
        return None
    status = change.new_chat_member.status
    if status == ChatMemberStatus.BANNED:
        kind = InboundKind.BLOCKED
    elif status == ChatMemberStatus.MEMBER:
        kind = InboundKind.UNBLOCKED
    else:
        return None
    user = change.from_user
    return Inbound(
        chat=_chat_ref(change.chat.id, user.id, True),
        sender_id=str(user.id),
        sender_name=user.full_name,
        text="",
        message_id=f"member-{update_id}",  # no message here; the update id is stable on redelivery
        received_at=change.date,
        kind=kind,
        language=user.language_code,
    )


# ---------------------------------------------------------------------------------------- outbound
@dataclass(frozen=True, slots=True)
class Part:
    """One Bot API call: a text message, or a photo with an optional caption."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    photo: Image | None = None
    reply_to: int | None = None


def render(message: Outbound) -> list[Part]:
    """The calls that deliver `message`: long text is split, the keyboard rides on the last part."""
    keyboard = build_keyboard(message.choices)
    private = message.chat.chat_id.isdigit()
    # In a private chat the conversation is one to one: quoting every message only adds noise.
    reply_to = int(message.reply_to) if message.reply_to and message.reply_to.isdigit() and not private else None
    texts = split_text(message.text)
    parts: list[Part] = []
    if message.image is not None:
        if utf16_len(message.text) <= MAX_CAPTION:
            return [Part(message.text.strip(), keyboard, message.image, reply_to)]
        parts.append(Part("", None, message.image, reply_to))
        reply_to = None
    if not texts:
        raise ValueError("nothing to send: the text is empty")
    for i, text in enumerate(texts):
        last = i == len(texts) - 1
        parts.append(Part(text, keyboard if last else None, None, reply_to if i == 0 else None))
    return parts


def build_keyboard(choices: Sequence[Choice]) -> InlineKeyboardMarkup | None:
    """Short labels (ratings) share rows of up to six; longer ones get two, or one, per row."""
    if not choices:
        return None
    for choice in choices:
        if not 1 <= len(choice.value.encode()) <= MAX_CALLBACK_DATA:
            raise ValueError(f"choice value must be 1-{MAX_CALLBACK_DATA} bytes: {choice.value!r}")
    longest = max(len(c.label) for c in choices)
    if longest <= 4:
        rows = -(-len(choices) // 6)
        per_row = -(-len(choices) // rows)  # balanced: 11 buttons -> 6 + 5
    else:
        per_row = 2 if longest <= 16 else 1
    buttons = [InlineKeyboardButton(c.label, callback_data=c.value) for c in choices]
    return InlineKeyboardMarkup([buttons[i : i + per_row] for i in range(0, len(buttons), per_row)])


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split on line boundaries into parts of at most `limit` UTF-16 units; blank parts are dropped.

    A single line longer than the limit is cut at its last space before the limit (or hard).
    """
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        for piece in _cut_line(line, limit):
            extra = utf16_len(piece) + (1 if current else 0)
            if current and size + extra > limit:
                parts.append("\n".join(current))
                current, size = [], 0
                extra = utf16_len(piece)
            current.append(piece)
            size += extra
    if current:
        parts.append("\n".join(current))
    return [p.strip("\n") for p in parts if p.strip()]


def _cut_line(line: str, limit: int) -> list[str]:
    pieces: list[str] = []
    while utf16_len(line) > limit:
        cut = _prefix_chars(line, limit)
        space = line.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space
        pieces.append(line[:cut].rstrip())
        line = line[cut:].lstrip(" ")
    pieces.append(line)
    return pieces


def _prefix_chars(text: str, units: int) -> int:
    """How many characters of `text` fit in `units` UTF-16 code units."""
    total = 0
    for i, char in enumerate(text):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > units:
            return i
    return len(text)


# ---------------------------------------------------------------------------------------- errors
def delivery_error(exc: TelegramError) -> DeliveryError:
    """Translate a PTB error from a send into ours (the engine never sees SDK exceptions).

    - RecipientUnreachable: 403 (blocked, deactivated, never started the bot, kicked from the group)
      and the bad requests that mean the chat is gone;
    - MessageRejected: any other 400, our own payload (the customer stays reachable);
    - PlatformGone: 401, the token was revoked;
    - TryLater: 429, 5xx, network trouble and anything else.
    """
    reason = f"telegram: {redact(exc.message)}"
    if isinstance(exc, Forbidden):
        return RecipientUnreachable(reason)
    if isinstance(exc, InvalidToken):
        return PlatformGone(reason)
    if isinstance(exc, RetryAfter):
        return TryLater(reason, retry_after=retry_seconds(exc))
    if isinstance(exc, BadRequest):
        if any(s in exc.message.lower() for s in _PERMANENT_BAD_REQUESTS):
            return RecipientUnreachable(reason)
        return MessageRejected(reason)
    return TryLater(reason)


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form of retry_after is deprecated
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
