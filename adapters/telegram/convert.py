"""Conversions at the Telegram edge, inbound: PTB `Update` -> `Inbound`, PTB errors -> `DeliveryError`.

Kept free of I/O so they can be tested on their own (outbound rendering is in `render`).
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timedelta

from telegram import CallbackQuery, ChatMemberUpdated, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from adapters.telegram.redaction import redact
from bot.errors import ConfigError, DeliveryError, MessageRejected, PlatformGone, RecipientUnreachable, TryLater
from bot.types import ChatRef, Inbound, InboundKind

PLATFORM = "telegram"
# The updates the adapter reads; anything else Telegram need not send.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")

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
        forwarded=msg.forward_origin is not None,
        media_group=msg.media_group_id,
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


# ---------------------------------------------------------------------------------------- errors
def token_rejected(token_env: str) -> PlatformGone:
    """The one line a revoked or wrong token gives (never the token itself)."""
    return PlatformGone(f"telegram: the Bot API rejected the token in {token_env} (401); set a valid one and restart")


def delivery_error(exc: TelegramError, token_env: str = "TELEGRAM_BOT_TOKEN") -> DeliveryError:
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
        return token_rejected(token_env)
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


def start_error(exc: TelegramError, token_env: str) -> DeliveryError | ConfigError:
    """A failure while starting (getMe, setMyCommands, deleteWebhook, setWebhook): a refused token ends
    the platform, a refused webhook setting is the operator's to fix, anything else passes."""
    reason = f"telegram: cannot start: {redact(exc.message)}"
    if isinstance(exc, InvalidToken):
        return token_rejected(token_env)
    if isinstance(exc, BadRequest):
        return ConfigError("telegram.webhook_url", reason)
    if isinstance(exc, RetryAfter):
        return TryLater(reason, retry_after=retry_seconds(exc))
    return TryLater(reason)
