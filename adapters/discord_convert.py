"""Conversions at the Discord edge: discord.py objects -> Inbound, discord.py errors -> DeliveryError."""

from __future__ import annotations

from datetime import UTC

import aiohttp
import discord

from bot.errors import DeliveryError
from bot.types import ChatRef, Inbound, InboundKind

PLATFORM = "discord"

# What a send can raise that is not a bug of ours.
SEND_ERRORS = (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError, TimeoutError, ValueError)


def delivery_error(exc: BaseException) -> DeliveryError:
    """Translate what discord.py and aiohttp raise into our DeliveryError.

    Every 403 is permanent: retrying it only adds to the invalid-request count (Discord bans an IP
    past 10,000 invalid requests in 10 minutes). 50007: DMs closed or bot blocked; 50278: no mutual
    server left. A 429 reaches us only when Discord asks for a longer wait than discord.py waits in
    place (`max_ratelimit_timeout`): the outbox retries after `retry_after`.
    """
    if isinstance(exc, discord.Forbidden | discord.NotFound):
        return DeliveryError(f"discord {exc.code}: {exc.text or exc.status}", permanent=True)
    if isinstance(exc, discord.RateLimited):
        return DeliveryError("discord: rate limited", permanent=False, retry_after=exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        if exc.status >= 500:
            return DeliveryError(f"discord {exc.status}: server error", permanent=False)
        return DeliveryError(f"discord {exc.code or exc.status}: {exc.text}", permanent=True)
    if isinstance(exc, ValueError):  # a message Discord would refuse (too many buttons...)
        return DeliveryError(f"discord: {exc}", permanent=True)
    return DeliveryError(f"discord: {type(exc).__name__}", permanent=False)


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
    )


def interaction_inbound(
    interaction: discord.Interaction,
    chat: ChatRef,
    text: str,
    *,
    is_private: bool,
    kind: InboundKind = InboundKind.TEXT,
    choice: str | None = None,
) -> Inbound:
    """A slash command, button press or form submit -> Inbound whose message_id is the interaction id,
    so the engine's reply (reply_to = that id) can be sent as the interaction's follow-up."""
    user = interaction.user
    roles = getattr(user, "roles", [])  # a Member in a server; a plain User in a DM has none
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
        sender_roles=frozenset(r.name for r in roles if not r.is_default()),
        language=str(interaction.locale.value)[:16] if interaction.locale else None,
    )
