"""Conversions at the Discord edge: discord.py objects -> Inbound, discord.py errors -> DeliveryError."""

from __future__ import annotations

from datetime import UTC

import aiohttp
import discord

from adapters.discord.authority import Vouched
from bot.errors import DeliveryError, MessageRejected, PlatformGone, RecipientUnreachable, TryLater
from bot.types import ChatRef, Inbound, InboundKind

PLATFORM = "discord"

# What a send can raise that is not a bug of ours.
SEND_ERRORS = (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError, TimeoutError, ValueError)


# "This person can't be reached": DMs closed or bot blocked, no mutual server, unknown channel or user.
UNREACHABLE_CODES = frozenset({50007, 50278, 10003, 10013})


def delivery_error(exc: BaseException) -> DeliveryError:
    """Translate what discord.py and aiohttp raise into our DeliveryError classes.

    - RecipientUnreachable: only 50007, 50278, 10003 and 10013 (never retried: Discord bans an IP past
      10,000 invalid requests in 10 minutes);
    - PlatformGone: 401, the token was reset;
    - TryLater: 429 (when Discord asks for a longer wait than discord.py waits in place), 5xx,
      network trouble;
    - MessageRejected: any other 4xx (our own payload, a missing permission in a channel): that
      delivery fails, the customer stays reachable.
    """
    if isinstance(exc, discord.RateLimited):
        return TryLater("discord: rate limited", retry_after=exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        reason = f"discord {exc.code or exc.status}: {exc.text or exc.status}"
        if exc.code in UNREACHABLE_CODES:
            return RecipientUnreachable(reason)
        if exc.status == 401:
            return PlatformGone(reason)
        if exc.status == 429:
            retry_after = getattr(exc, "retry_after", None)
            return TryLater(reason, retry_after=float(retry_after) if retry_after else None)
        if exc.status >= 500:
            return TryLater(f"discord {exc.status}: server error")
        return MessageRejected(reason)
    if isinstance(exc, ValueError):  # a message Discord would refuse (too many buttons...)
        return MessageRejected(f"discord: {exc}")
    return TryLater(f"discord: {type(exc).__name__}")


def expired_interaction(exc: discord.HTTPException) -> bool:
    """An interaction's follow-up refused because its token is past its 15 minutes (401 50027) or gone
    (10015): about that interaction only, never about the bot's token or the customer."""
    return exc.code in (50027, 10015) or exc.status == 401


# Gateway close codes after which reconnecting can never help (authentication failed, invalid shard,
# sharding required, invalid API version, invalid or disallowed intents).
FATAL_CLOSE_CODES = frozenset({4004, 4010, 4011, 4012, 4013, 4014})
START_ERRORS = (discord.ClientException, *SEND_ERRORS)


def start_error(exc: BaseException, token_env: str) -> DeliveryError:
    """What starting (or keeping) the Discord connection raised, by cause: PlatformGone when only the
    operator can fix it (token reset, intents), TryLater for what passes (network, 5xx, 429)."""
    if isinstance(exc, discord.LoginFailure) or (isinstance(exc, discord.HTTPException) and exc.status == 401):
        return PlatformGone(f"discord refused the token in {token_env} (HTTP 401): reset it in the developer portal")
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return PlatformGone("discord gateway closed 4014: disallowed intents")
    if isinstance(exc, discord.ConnectionClosed):
        if exc.code in FATAL_CLOSE_CODES:
            what = "authentication failed: the token was reset" if exc.code == 4004 else exc.reason or "fatal"
            return PlatformGone(f"discord gateway closed {exc.code} ({what})")
        return TryLater(f"discord gateway closed {exc.code}")
    if isinstance(exc, TimeoutError):
        return TryLater("discord: gateway not ready in time")
    if isinstance(exc, discord.GatewayNotFound):
        return TryLater("discord: gateway not found")
    if isinstance(exc, SEND_ERRORS):
        error = delivery_error(exc)
        if isinstance(error, TryLater) and not isinstance(exc, discord.HTTPException | discord.RateLimited):
            return TryLater(f"discord: cannot reach the API: {type(exc).__name__}", retry_after=error.retry_after)
        return error
    return TryLater(f"discord: {type(exc).__name__}")


def message_inbound(message: discord.Message, kind: InboundKind) -> Inbound | None:
    """A DM to the bot (or its edit) -> Inbound; None for anything the bot does not read."""
    if message.author.bot or message.guild is not None:
        return None  # only DMs: the bot does not read server channels
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return None
    text = message.content
    if kind is InboundKind.TEXT and not text.strip():
        kind = InboundKind.MEDIA  # a photo, sticker, voice message... with no words
    reference = message.reference.message_id if message.reference else None
    return Inbound(
        chat=ChatRef(PLATFORM, str(message.channel.id), str(message.author.id)),
        sender_id=str(message.author.id),
        sender_name=message.author.display_name,
        text=text,
        message_id=str(message.id),
        received_at=message.edited_at if kind is InboundKind.EDIT and message.edited_at else message.created_at,
        is_private=True,
        kind=kind,
        reply_to=str(reference) if reference else None,
        update_ref=_edit_ref(message) if kind is InboundKind.EDIT else None,
    )


def _edit_ref(message: discord.Message) -> str | None:
    """Each edit of a message is its own update (the edit time tells them apart, to the microsecond)."""
    return f"{message.id}@{message.edited_at.timestamp():.6f}" if message.edited_at else None


def interaction_inbound(
    interaction: discord.Interaction,
    chat: ChatRef,
    text: str,
    *,
    is_private: bool,
    ephemeral: bool,
    vouched: Vouched,
    kind: InboundKind = InboundKind.TEXT,
    choice: str | None = None,
) -> Inbound:
    """A slash command, button press or form submit -> Inbound whose message_id is the interaction id,
    so the engine's reply (reply_to = that id) can be sent as the interaction's follow-up."""
    user = interaction.user
    return Inbound(
        chat=chat,
        sender_id=str(user.id),
        sender_name=user.display_name,
        text=text,
        message_id=str(interaction.id),
        received_at=interaction.created_at.astimezone(UTC),
        is_private=is_private,
        kind=kind,
        choice=choice,
        sender_roles=vouched.roles,
        trusted_place=vouched.trusted_place,
        language=str(interaction.locale.value)[:16] if interaction.locale else None,
        reply_handle=reply_handle(interaction, ephemeral),
        seen_by_sender_only=ephemeral,
    )


def reply_handle(interaction: discord.Interaction, ephemeral: bool) -> str:
    """What answering this interaction later takes (its follow-up webhook lives 15 minutes)."""
    return f"{interaction.application_id}:{'e' if ephemeral else 'p'}:{interaction.token}"


def parse_reply_handle(handle: str) -> tuple[int, bool, str] | None:
    """(application id, ephemeral, interaction token) from `reply_handle`, or None if malformed."""
    app_id, _, rest = handle.partition(":")
    flag, _, token = rest.partition(":")
    if not app_id.isdigit() or flag not in ("e", "p") or not token:
        return None
    return int(app_id), flag == "e", token
