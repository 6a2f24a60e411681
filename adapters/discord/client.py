"""The Discord adapter: discord.py 2.x inside our own event loop.

Customers opt in with /start (slash command or typed in a DM) and get questions in their DM, with an
"Answer" button opening a form; a plain DM reply counts too. Staff and managers use slash commands.
Every interaction is acknowledged within Discord's 3 seconds before the engine is awaited: slash
commands are deferred ("thinking", ephemeral in a server), a button press or form submit is
acknowledged by removing the buttons from its message (so it cannot be pressed twice). The engine's
replies leave through the outbox like everything else; a reply to an interaction carries the
interaction's follow-up handle (`Inbound.reply_handle`), so whichever process sends it within
Discord's 15 minutes answers in place. A "thinking..." placeholder with no reply coming is removed.

Discord never delivers a gateway event twice, so a DM or an interaction the engine defers (the
database is away) is tried again here, with back-off, for as long as the adapter runs.

Gateway intents: GUILDS and DIRECT_MESSAGES only. The privileged message-content intent is not
needed: DMs to the bot and interactions carry their content without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Callable, Mapping, Sequence

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
from discord.utils import MISSING

from adapters.discord.authority import GuildTrust
from adapters.discord.commands import Descriptions, build_tree, personal
from adapters.discord.convert import (
    PLATFORM,
    SEND_ERRORS,
    START_ERRORS,
    delivery_error,
    expired_interaction,
    interaction_inbound,
    message_inbound,
    parse_reply_handle,
    start_error,
)
from adapters.discord.limits import pace_rules
from adapters.discord.render import (
    ANSWER_INPUT,
    MODAL_TEMPLATE,
    RATING_INPUT,
    REPLY_INPUT,
    REPLY_MODAL,
    AnswerModal,
    ButtonKit,
    ReplyModal,
    modal_values,
    parse_rating,
    question_from,
    split_text,
)
from bot import texts
from bot.adapter import GoneCallback, Handled, OnMessage, OpenQuestionsOf
from bot.commands import CommandRegistry, default_registry
from bot.config import DiscordSettings
from bot.errors import (
    ConfigError,
    DeliveryError,
    HandlingDeferred,
    MessageRejected,
    PlatformGone,
    RecipientUnreachable,
    TryLater,
)
from bot.i18n import Voice
from bot.pacing import LocalPacer, Pacer
from bot.types import ChatRef, Inbound, InboundKind, Outbound, QuestionRef, answer_choice

log = logging.getLogger("feedbot.discord")

DISCORD_API = "https://discord.com/api/v10"
NO_MENTIONS = discord.AllowedMentions.none()


def _intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True  # servers, channels and roles (role names for staff checks)
    intents.dm_messages = True  # DMs to the bot, with content, and their edits
    return intents


def _no_voice_warnings() -> None:
    """discord.py warns at every client start that PyNaCl and davey (voice) are missing: we use no voice."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False


INTERACTION_RETRY_FOR = 14 * 60.0  # an interaction's token lives 15 minutes
QUESTION_LOOKBACK = 50  # messages read back from a DM answer to find the question it answered


class DiscordAdapter:
    platform = PLATFORM

    def __init__(
        self,
        settings: DiscordSettings,
        token: str,
        *,
        poll_ids: Sequence[str] = (),
        guild_ready_timeout: float = 2.0,
        ready_timeout: float = 60.0,
        sync_commands: bool = True,
        pacer: Pacer | None = None,
        retry_backoff: float = 0.5,
        interaction_retry_for: float = INTERACTION_RETRY_FOR,
        registry: CommandRegistry | None = None,
        voices: Callable[[str | None], Voice] | None = None,
    ) -> None:
        """`voices`: the texts for a locale (`Settings.voice`): slash command descriptions and apologies."""
        self.settings = settings
        self._voices = voices or (lambda code: Voice.choose(code, "en"))
        self.pacer: Pacer = pacer or LocalPacer(pace_rules(settings.send_rate))
        self.retry_backoff = retry_backoff
        self.interaction_retry_for = interaction_retry_for
        self._registry = registry or default_registry()
        self._personal = personal(self._registry)
        self._token = token
        self._poll_ids = tuple(poll_ids)
        self._guild_ready_timeout = guild_ready_timeout
        self._ready_timeout = ready_timeout
        self._sync_commands = sync_commands
        self._client: discord.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_message: OnMessage | None = None
        self._buttons = ButtonKit(self._on_choice, self._on_answer_button, self._on_reply_button, self._voices)
        self._saved_urls: tuple[str, yarl.URL] | None = None
        self._receive = True  # False: logged in for sending (REST) only, no gateway, until `start_receiving`
        self._open_questions: OpenQuestionsOf | None = None
        self.failure: DeliveryError | None = None  # what ended the gateway for good, if it did
        self._on_gone: GoneCallback | None = None
        self._ready = False  # the gateway was READY once since start
        self._background: set[asyncio.Task[None]] = set()
        self._trust = GuildTrust.from_settings(settings.guild_ids, (*settings.staff_roles, *settings.manager_roles))

    def catch_up_with(self, open_questions: OpenQuestionsOf) -> None:
        """Discord does not replay DMs sent while no session was connected: after every new session
        (READY, not RESUMED), the DM history after each open question is read and handed to the engine."""
        self._open_questions = open_questions

    def __repr__(self) -> str:  # never show the token
        return f"DiscordAdapter(api_base={self.settings.api_base!r})"

    # ------------------------------------------------------------------ lifecycle
    async def start(self, on_message: OnMessage) -> None:
        """Log in, sync the slash commands, connect the gateway; returns once READY.

        `client.login` is awaited here (a bad token fails `start`), then `client.connect` runs in a
        task: together exactly `Client.start`, never `Client.run`, which would own the event loop.
        """
        if self._client is not None:
            return
        self._on_message = on_message
        self.failure = None
        api_base = self.settings.api_base.rstrip("/")
        self._saved_urls = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        Route.BASE = api_base  # read when each request's Route is built, so set before login
        _no_voice_warnings()
        client = discord.Client(
            intents=_intents(),
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=self._guild_ready_timeout,
            max_ratelimit_timeout=30.0,  # longer waits raise RateLimited -> a later retry by the outbox
            chunk_guilds_at_startup=False,
        )
        self._client = client
        default = self._voices(None)
        tree = build_tree(
            client,
            self._on_slash,
            self._poll_ids,
            self._registry,
            default,
            lambda i: self._trust.vouch(i).trusted_place,
        )
        await tree.set_translator(Descriptions(self._voices, default.language))
        client.add_dynamic_items(*self._buttons.dynamic_items)
        self._register_events(client)
        try:
            await client.login(self._token)
            if client.application is not None and client.application.bot_public:
                log.warning(
                    "discord: the application's Public Bot switch is on: anyone can add the bot to their own "
                    "server; switch it off (developer portal, Bot). Staff rights hold only in guild_ids"
                )
            if api_base != DISCORD_API:
                # A plain Client connects to DiscordWebSocket.DEFAULT_GATEWAY whatever Route.BASE says:
                # ask this REST root for its gateway, or the websocket would go to the real Discord.
                _, url, _ = await client.http.get_bot_gateway()
                DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
            await self._trust.resolve(client.http)
            if self._sync_commands:
                await self._sync(client, tree)
            if self._receive and self._task is None:  # (leadership won meanwhile may have connected it)
                await self._connect(client)
        except START_ERRORS as exc:
            # The runner retries a TryLater with capped back-off and ends the platform on PlatformGone,
            # logging one line each time with this reason (which names Discord, never the database).
            await self.stop()
            raise start_error(exc, self.settings.token_env) from exc
        except BaseException:
            await self.stop()
            raise

    async def _connect(self, client: discord.Client) -> None:
        """The gateway connection (events in); sends need only the REST login."""
        self._task = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        self._task.add_done_callback(self._gateway_ended)
        await self._wait_ready(client, self._task)
        self._ready = True
        log.info("discord connected as %s (%d servers)", client.user, len(client.guilds))

    def watch(self, on_gone: GoneCallback) -> None:
        """`on_gone` is called when the gateway ends for good while running (token reset, intents)."""
        self._on_gone = on_gone

    # ------------------------------------------------------------------ leadership (bot.runtime.leadership)
    @property
    def leader_only(self) -> bool:
        """One gateway connection per bot token: every connection would receive every event."""
        return True

    def hold_receiving(self) -> None:
        self._receive = False

    async def start_receiving(self) -> None:
        self._receive = True
        if self._client is not None and self._task is None:
            try:
                await self._connect(self._client)
            except START_ERRORS as exc:
                self._task = None
                raise start_error(exc, self.settings.token_env) from exc
            except BaseException:
                self._task = None
                raise

    async def stop_receiving(self) -> None:
        """Close the gateway; the adapter logs in again for sending only."""
        if self._task is None:
            self._receive = False
            return
        on_message = self._on_message
        await self.stop()
        self._receive = False
        if on_message is not None:
            await self.start(on_message)

    def _gateway_ended(self, task: asyncio.Task[None]) -> None:
        """discord.py reconnects by itself; it gives up only on fatal close codes (token reset, intents)."""
        if task is not self._task or task.cancelled() or (exc := task.exception()) is None:
            return
        self.failure = start_error(exc, self.settings.token_env)
        if not self._ready:
            return  # start() raises it
        log.error("%s: discord stopped; the other platforms go on", self.failure.reason)
        if isinstance(self.failure, PlatformGone) and self._on_gone is not None:
            self._on_gone(self.failure)

    async def _wait_ready(self, client: discord.Client, task: asyncio.Task[None]) -> None:
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            done, _ = await asyncio.wait({ready, task}, timeout=self._ready_timeout, return_when="FIRST_COMPLETED")
        finally:
            ready.cancel()
        if task in done:
            task.result()  # raises what ended the gateway (bad intents, closed...)
            raise TryLater("discord gateway closed before READY")
        if ready not in done:
            raise TimeoutError(f"discord gateway not ready after {self._ready_timeout:.0f} s")

    async def _sync(self, client: discord.Client, tree: discord.app_commands.CommandTree) -> None:
        """Guild commands appear at once; global ones can take a while to reach every client."""
        if not self.settings.guild_ids:
            await tree.sync()
            log.info("discord slash commands synced globally")
            return
        for guild_id in self.settings.guild_ids:
            if not guild_id.isdigit():
                raise ConfigError("discord.guild_ids", f"not a server id: {guild_id!r}")
            guild = discord.Object(id=int(guild_id))
            tree.copy_global_to(guild=guild)
            try:
                await tree.sync(guild=guild)
            except discord.Forbidden as exc:
                log.error(
                    "cannot register slash commands in guild %s (discord %s): is the bot in that server, "
                    "invited with the applications.commands scope?",
                    guild_id,
                    exc.code,
                )
            else:
                log.info("discord slash commands synced to guild %s", guild_id)

    async def stop(self) -> None:
        client, task = self._client, self._task
        self._client, self._task, self._ready = None, None, False
        for job in list(self._background):
            job.cancel()
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
        if task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        if self._saved_urls is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved_urls
            self._saved_urls = None

    def _register_events(self, client: discord.Client) -> None:
        async def on_message(message: discord.Message) -> None:
            await self._on_dm(message, InboundKind.TEXT)

        async def on_raw_message_edit(payload: discord.RawMessageUpdateEvent) -> None:
            if payload.guild_id is None and payload.message.edited_at is not None:
                await self._on_dm(payload.message, InboundKind.EDIT)

        async def on_interaction(interaction: discord.Interaction) -> None:
            if interaction.type is discord.InteractionType.modal_submit:
                await self._on_modal_submit(interaction)

        async def on_ready() -> None:  # a new session (start, or one that could not resume)
            job = asyncio.create_task(self._catch_up(client), name="discord-catch-up")
            self._background.add(job)
            job.add_done_callback(self._background.discard)

        for handler in (on_message, on_raw_message_edit, on_interaction, on_ready):
            client.event(handler)

    async def _catch_up(self, client: discord.Client) -> None:
        """Hand the engine, in order, the DMs sent after each open question while we had no session.

        What was handled already is recognised by the engine's dedupe, as for any redelivery.
        """
        if self._open_questions is None:
            return
        try:
            questions = await self._open_questions(PLATFORM)
        except Exception:
            log.exception("discord catch-up: cannot read the open questions")
            return
        after: dict[str, int] = {}  # DM channel -> the earliest open question in it
        for question in questions:
            if question.chat.chat_id.isdigit() and question.message_id.isdigit():
                first = after.get(question.chat.chat_id, int(question.message_id))
                after[question.chat.chat_id] = min(first, int(question.message_id))
        caught = 0
        for chat_id, first in after.items():
            channel = client.get_partial_messageable(int(chat_id), type=discord.ChannelType.private)
            try:
                async with self.pacer.slot(chat_id, private=True):
                    missed = [
                        m async for m in channel.history(limit=None, after=discord.Object(id=first), oldest_first=True)
                    ]
            except SEND_ERRORS as exc:
                log.warning("discord catch-up: cannot read chat=%s: %s", chat_id, delivery_error(exc).reason)
                continue
            for message in missed:
                inbound = message_inbound(message, InboundKind.TEXT)
                if inbound is None:
                    continue
                handled = await self._deliver(inbound)
                if handled is None:
                    return  # stopping
                caught += not handled.duplicate
                if handled.answered_runs:
                    await self._remove_answer_buttons(message, handled.answered_runs)
        if after:
            log.info("discord caught up: %d missed messages in %d chats with open questions", caught, len(after))

    # ------------------------------------------------------------------ inbound: DMs
    async def _deliver(self, inbound: Inbound, give_up_after: float | None = None) -> Handled | None:
        """Hand an inbound message to the engine, again and again while it is deferred.

        None: it could not be handled (the adapter is stopping, or the time ran out).
        """
        assert self._on_message is not None
        loop = asyncio.get_running_loop()
        deadline = None if give_up_after is None else loop.time() + give_up_after
        delay = self.retry_backoff
        while self._client is not None:
            try:
                return await self._on_message(inbound)
            except HandlingDeferred as exc:
                log.warning("discord message %s deferred (%s); trying again in %.1fs", inbound.message_id, exc, delay)
                pause = min(delay, max(exc.retry_after, 0.01))
            if deadline is not None and loop.time() + pause > deadline:
                return None
            await asyncio.sleep(pause)
            delay = min(delay * 2, 30.0)
        return None

    async def _on_dm(self, message: discord.Message, kind: InboundKind) -> None:
        inbound = message_inbound(message, kind)
        if inbound is None or self._on_message is None:
            return
        handled = await self._deliver(inbound)
        if handled is not None and handled.answered_runs:
            await self._remove_answer_buttons(message, handled.answered_runs)
        if handled is None:
            # Discord never re-delivers a gateway event: say so, so the customer can send it again.
            log.error("a discord DM could not be handled chat=%s user=%s", inbound.chat.chat_id, inbound.sender_id)
            with contextlib.suppress(*SEND_ERRORS):
                await message.channel.send(self._voices(inbound.language)(texts.ERROR), allowed_mentions=NO_MENTIONS)

    async def _remove_answer_buttons(self, answer: discord.Message, runs: Sequence[int]) -> None:
        """The question answered by a plain DM loses its "Answer" button, as one answered with the form
        does: it cannot be answered twice. Looked up in the DM's recent history (a restart forgets)."""
        me = self._client.user if self._client is not None else None
        if me is None:
            return
        try:
            async with self.pacer.slot(str(answer.channel.id), private=True):
                recent = [m async for m in answer.channel.history(limit=QUESTION_LOOKBACK, before=answer)]
            for message in recent:
                if message.author.id != me.id:
                    continue
                question = self._buttons.question_of(message)
                if question is None or question.run_id not in runs:
                    continue
                async with self.pacer.slot(str(answer.channel.id), private=True):
                    await message.edit(view=self._buttons.view_without_question(message))
        except SEND_ERRORS as exc:
            log.warning("discord: could not remove an Answer button chat=%s: %s", answer.channel.id, exc)

    # ------------------------------------------------------------------ inbound: interactions
    async def _personal_chat(self, interaction: discord.Interaction) -> ChatRef:
        """The caller's DM with the bot: where their subscription lives and questions go."""
        user = interaction.user
        if interaction.guild_id is None and interaction.channel_id is not None:
            return ChatRef(PLATFORM, str(interaction.channel_id), str(user.id))
        dm = user.dm_channel or await user.create_dm()
        return ChatRef(PLATFORM, str(dm.id), str(user.id))

    async def _on_slash(self, interaction: discord.Interaction, text: str) -> None:
        in_server = interaction.guild_id is not None
        # Acknowledge first (3-second limit); in a server the answer concerns only the caller.
        await interaction.response.defer(ephemeral=in_server, thinking=True)
        name = text.split()[0].lstrip("/")
        try:
            if name in self._personal or not in_server:
                chat, private = await self._personal_chat(interaction), True
            else:
                chat, private = ChatRef(PLATFORM, str(interaction.channel_id)), False
        except discord.HTTPException:
            log.exception("cannot open a DM with user=%s", interaction.user.id)
            sorry = self._voices(str(interaction.locale.value) if interaction.locale else None)(texts.ERROR)
            await interaction.followup.send(sorry, ephemeral=in_server)
            return
        inbound = interaction_inbound(
            interaction, chat, text, is_private=private, ephemeral=in_server, vouched=self._trust.vouch(interaction)
        )
        await self._handle_interaction(interaction, inbound, ephemeral=in_server, thinking=True)

    async def _on_choice(self, interaction: discord.Interaction, value: str) -> None:
        in_server = interaction.guild_id is not None
        restore = self._buttons.view_from_message(interaction.message, ephemeral=in_server)
        await interaction.response.edit_message(view=None)  # the acknowledgement: no second press
        chat = await self._personal_chat(interaction)
        inbound = interaction_inbound(
            interaction,
            chat,
            "",
            is_private=True,
            ephemeral=in_server,
            vouched=self._trust.vouch(interaction),
            kind=InboundKind.CHOICE,
            choice=value,
        )
        await self._handle_interaction(interaction, inbound, ephemeral=in_server, restore=restore)

    async def _on_answer_button(self, interaction: discord.Interaction, question: QuestionRef) -> None:
        prompt = interaction.message.content if interaction.message else ""
        say = self._voices(str(interaction.locale.value) if interaction.locale else question.language)
        await interaction.response.send_modal(AnswerModal(question, discord.utils.remove_markdown(prompt), say))

    async def _on_reply_button(self, interaction: discord.Interaction, answer: int) -> None:
        await interaction.response.send_modal(ReplyModal(answer, self._voices(None)))

    async def _on_reply_submit(self, interaction: discord.Interaction, answer: int) -> None:
        """A staff member's reply form: handled as `/reply ANSWER_ID text` typed in that channel (the
        engine checks their role and place, as for the command)."""
        data: Mapping[str, object] = interaction.data or {}
        in_server = interaction.guild_id is not None
        await interaction.response.defer(ephemeral=in_server, thinking=True)
        text = modal_values(data).get(REPLY_INPUT, "").strip()
        chat = ChatRef(PLATFORM, str(interaction.channel_id))
        inbound = interaction_inbound(
            interaction,
            chat,
            f"/reply {answer} {text}",
            is_private=False,
            ephemeral=in_server,
            vouched=self._trust.vouch(interaction),
        )
        await self._handle_interaction(interaction, inbound, ephemeral=in_server, thinking=True)

    async def _on_modal_submit(self, interaction: discord.Interaction) -> None:
        data: Mapping[str, object] = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        if (reply := REPLY_MODAL.fullmatch(custom_id)) is not None:
            await self._on_reply_submit(interaction, int(reply["answer"]))
            return
        match = MODAL_TEMPLATE.fullmatch(custom_id)
        if match is None:
            return
        question = question_from(match)
        values = modal_values(data)
        in_server = interaction.guild_id is not None
        restore = None
        if interaction.message is not None:
            restore = self._buttons.view_from_message(interaction.message, ephemeral=in_server)
            await interaction.response.edit_message(view=None)
        else:
            await interaction.response.defer(ephemeral=in_server, thinking=True)
        rating = parse_rating(values.get(RATING_INPUT, ""), question.scale) if question.rating else None
        chat = await self._personal_chat(interaction)
        inbound = interaction_inbound(
            interaction,
            chat,
            values.get(ANSWER_INPUT, "").strip(),
            is_private=True,
            ephemeral=in_server,
            vouched=self._trust.vouch(interaction),
            choice=answer_choice(question.run_id, rating),
        )
        await self._handle_interaction(
            interaction, inbound, ephemeral=in_server, thinking=interaction.message is None, restore=restore
        )

    async def _handle_interaction(
        self,
        interaction: discord.Interaction,
        inbound: Inbound,
        *,
        ephemeral: bool,
        thinking: bool = False,
        restore: discord.ui.View | None = None,
    ) -> None:
        handled = await self._deliver(inbound, give_up_after=self.interaction_retry_for)
        if handled is None:
            log.error(
                "a discord interaction could not be handled user=%s msg=%s", inbound.sender_id, inbound.message_id
            )
            with contextlib.suppress(*SEND_ERRORS):
                if restore is not None:
                    await interaction.edit_original_response(view=restore)
                await interaction.followup.send(self._voices(inbound.language)(texts.ERROR), ephemeral=ephemeral)
            return
        if thinking and handled.replies == 0:
            with contextlib.suppress(*SEND_ERRORS):
                await interaction.delete_original_response()  # nothing to say: end the "thinking..."

    # ------------------------------------------------------------------ outbound
    async def send(self, message: Outbound) -> str:
        client = self._client
        if self.failure is not None:
            raise self.failure
        if client is None or client.is_closed():
            raise TryLater("discord: not connected")
        handle = parse_reply_handle(message.reply_handle) if message.reply_handle else None
        private = message.chat.user_id is not None
        try:
            async with self.pacer.slot(message.chat.chat_id, private=private):
                if handle is not None:
                    try:
                        return await self._send_followup(client, handle, message)
                    except discord.HTTPException as exc:
                        if not expired_interaction(exc):
                            raise
                        if not private:  # its answer was for the caller's eyes only: never post it openly
                            raise MessageRejected(
                                "discord: the interaction expired before its answer was sent"
                            ) from exc
                        log.info("discord interaction expired; its answer goes to the DM chat=%s", message.chat.chat_id)
                return await self._send_to_channel(client, message)
        except DeliveryError:
            raise
        except SEND_ERRORS as exc:
            error = delivery_error(exc)
            if handle is not None and isinstance(error, RecipientUnreachable):
                # A refused follow-up (an expired interaction token...) says nothing about whether the
                # customer can be reached, so it must not mark them unreachable.
                error = TryLater(error.reason)
            log.warning(
                "discord send failed chat=%s cause=%s reason=%s",
                message.chat.chat_id,
                type(error).__name__,
                error.reason,
            )
            raise error from exc

    def _parts(self, message: Outbound, ephemeral: bool) -> tuple[list[str], discord.ui.View | None]:
        parts = split_text(message.text)
        view = self._buttons.view(message.choices, message.question, ephemeral=ephemeral, answer=message.answer_id)
        return parts, view

    @staticmethod
    def _file(message: Outbound) -> discord.File | None:
        if message.image is None:
            return None
        return discord.File(io.BytesIO(message.image.data), filename=message.image.filename)

    async def _send_to_channel(self, client: discord.Client, message: Outbound) -> str:
        channel = await self._channel(client, message.chat)
        parts, view = self._parts(message, ephemeral=False)
        sent: discord.Message | None = None
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            sent = await channel.send(
                content=part or None,
                view=view if last and view is not None else MISSING,
                file=(self._file(message) if last else None) or MISSING,
                allowed_mentions=NO_MENTIONS,
            )
        assert sent is not None
        log.debug("discord sent chat=%s msg=%s parts=%d", message.chat.chat_id, sent.id, len(parts))
        return str(sent.id)

    async def _send_followup(self, client: discord.Client, handle: tuple[int, bool, str], message: Outbound) -> str:
        """The reply to an interaction, as its follow-up (the same webhook `Interaction.followup` uses)."""
        application_id, ephemeral, token = handle
        followup = discord.Webhook.from_state(
            data={"id": application_id, "type": 3, "token": token},
            state=client._connection,  # noqa: SLF001  (what discord.py's own Interaction.followup passes)
        )
        parts, view = self._parts(message, ephemeral=ephemeral)
        sent: discord.WebhookMessage | None = None
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            sent = await followup.send(
                content=part or MISSING,
                view=view if last and view is not None else MISSING,
                file=(self._file(message) if last else None) or MISSING,
                ephemeral=ephemeral,
                allowed_mentions=NO_MENTIONS,
                wait=True,
            )
        assert sent is not None
        return str(sent.id)

    async def _channel(self, client: discord.Client, chat: ChatRef) -> discord.abc.Messageable:
        try:
            channel_id = int(chat.chat_id)
        except ValueError:
            raise RecipientUnreachable(f"discord: not a channel id: {chat.chat_id!r}") from None
        if chat.user_id is not None and chat.chat_id == chat.user_id:
            # A user id stored as the address: open (or reuse) the DM with them.
            return await client.create_dm(discord.Object(id=int(chat.user_id)))
        return client.get_partial_messageable(channel_id)

    # ------------------------------------------------------------------ for tests and the CLI
    @property
    def client(self) -> discord.Client | None:
        return self._client
