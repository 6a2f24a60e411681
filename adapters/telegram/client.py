"""The Telegram adapter: python-telegram-bot's `Bot` inside our event loop, with our own update loop.

Why not PTB's `Application`/`Updater`: the Updater confirms an update to Telegram when it fetches the
next batch, before the handler has finished, so a crash mid-handler loses it. Here an update is
confirmed (getUpdates offset advanced, or the webhook answered 200) only after `on_message` returned,
which is after the engine committed it. A redelivered update is harmless: the engine dedupes it.
Nothing here owns the loop, so Telegram and Discord run side by side.

No batch barrier: updates from different senders are handled concurrently, one sender's in order,
and fetching goes on while they are handled; the offset advances over the committed prefix. An
update the engine defers (the database is away) is tried again in its sender's lane with back-off,
while the other senders carry on. A callback query is answered on receipt (the button stops
spinning); the used keyboard is removed afterwards, off the acknowledgement path.

Sends keep Telegram's limits through the pacer (bot.pacing); a 429 pauses every send for
`retry_after` and retries a few times. Errors become our DeliveryError classes
(`telegram_convert.delivery_error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from telegram import Bot, CallbackQuery, InputFile, Message, ReplyParameters, Update
from telegram.error import BadRequest, ChatMigrated, Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from adapters.telegram.convert import (
    ALLOWED_UPDATES,
    PLATFORM,
    delivery_error,
    retry_seconds,
    start_error,
    to_inbound,
    token_rejected,
)
from adapters.telegram.groups import Outsider, log_leaving, outsider
from adapters.telegram.lanes import RequestLanes
from adapters.telegram.limits import is_private_chat, pace_rules
from adapters.telegram.menus import CommandMenus, native_chat_id
from adapters.telegram.moves import ChatMoves
from adapters.telegram.redaction import protect_token, redact
from adapters.telegram.render import Part, render
from bot.adapter import ChatMemory, GoneCallback, OnMessage
from bot.config import TelegramSettings
from bot.errors import ConfigError, DeliveryError, HandlingDeferred, MessageRejected, PlatformGone, TryLater
from bot.i18n import Voice
from bot.pacing import LocalPacer, Pacer
from bot.runtime.metrics import Metrics
from bot.types import Inbound, Outbound

log = logging.getLogger("feedbot.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
RawUpdate = dict[str, Any]
REFETCH_WHILE_BUSY = 0.25  # seconds between getUpdates calls while updates are being handled
WEBHOOK_CHECK_EVERY = 600.0  # seconds between getWebhookInfo calls (Telegram's own delivery errors)


class TelegramAdapter:
    platform = PLATFORM

    def __init__(
        self,
        settings: TelegramSettings,
        token: str,
        *,
        webhook_secret: str | None = None,
        environ: Mapping[str, str] | None = None,
        pacer: Pacer | None = None,
        poll_timeout: int = 25,
        retry_backoff: float = 1.0,
        max_flood_retries: int = 3,
        max_flood_wait: float = 60.0,
        stop_grace: float = 10.0,
        max_lanes: int = 64,
        webhook_check_every: float = WEBHOOK_CHECK_EVERY,
        metrics: Metrics | None = None,
        voices: Callable[[str | None], Voice] | None = None,
        alert_chats: Sequence[str] = (),
    ) -> None:
        """`voices`: the texts for a language code (`Settings.voice`), for the translated menus;
        `alert_chats`: groups besides `digest_chats` that the bot serves (`[alerts] telegram_chats`)."""
        self.settings = settings
        self._team_chats = frozenset((*settings.digest_chats, *alert_chats))
        self._token = token
        self._environ = os.environ if environ is None else environ
        self._webhook_secret = webhook_secret
        self.pacer: Pacer = pacer or LocalPacer(pace_rules(settings.send_rate))
        self.metrics = metrics
        self.poll_timeout = poll_timeout
        self.retry_backoff = retry_backoff
        self.max_flood_retries = max_flood_retries
        self.max_flood_wait = max_flood_wait
        self.stop_grace = stop_grace
        self.webhook_check_every = webhook_check_every
        self._webhook_error_seen: int | None = None  # last_error_date already logged
        self.menus = CommandMenus(settings, voices=voices)
        self.moves = ChatMoves(settings.digest_chats)
        self._bot: Bot | None = None
        self._updates_request: HTTPXRequest | None = None
        self._on_message: OnMessage | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._offset: int | None = None
        self._stopping = False
        # Updates received and not yet confirmed: update id -> handled. The offset moves over the
        # handled prefix; ids in here that come back with getUpdates are not handled twice.
        self._window: dict[int, bool] = {}
        self._lanes: dict[str, list[tuple[int, Update | None]]] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._lane_slots = asyncio.Semaphore(max_lanes)
        self._in_hand = 0  # updates accepted and not handled yet
        self._all_handled = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._leaving: set[int] = set()  # unconfigured groups being left
        self._on_gone: GoneCallback | None = None
        self._receive = True  # False: connected for sending only, until `start_receiving`
        protect_token(token)

    @property
    def username(self) -> str:
        return self._require_bot().username

    # ------------------------------------------------------------------ lifecycle
    async def start(self, on_message: OnMessage) -> None:
        """Connect (getMe), register the command menus, then poll or serve the webhook.

        Failures come out as our classes (bot.errors): TryLater for what passes (network, 5xx, 429),
        PlatformGone for a refused token, ConfigError for a webhook Telegram refuses. A failed or
        interrupted start leaves nothing behind: `start` may simply be called again.
        """
        if self._bot is not None:
            return
        secret = self._secret() if self.settings.mode == "webhook" else None
        self._updates_request = HTTPXRequest(connection_pool_size=1)
        bot = Bot(
            self._token,
            base_url=self.settings.base_url,
            request=RequestLanes(),
            get_updates_request=self._updates_request,
        )
        self._bot, self._on_message = bot, on_message
        self._stopping = False
        try:
            await self.moves.load()
            await bot.initialize()
            await self.menus.register(bot, self.moves.route)
            if secret is not None:
                await self._start_webhook(secret)
            elif self._receive:
                await self._start_polling()
        except BaseException as exc:
            await self.stop()
            if isinstance(exc, TelegramError):  # PTB's message may quote the token: never let it near a log
                raise start_error(exc, self.settings.token_env) from None
            raise
        log.info("telegram adapter started as @%s mode=%s", bot.username, self.settings.mode)

    def watch(self, on_gone: GoneCallback) -> None:
        self._on_gone = on_gone

    def remember_with(self, memory: ChatMemory) -> None:
        self.moves.memory = memory
        self.menus.memory = memory

    # ------------------------------------------------------------------ leadership (bot.runtime.leadership)
    @property
    def leader_only(self) -> bool:
        """Long polling has one receiver per token (Telegram answers a second with 409); a webhook
        is served by every process behind the load balancer."""
        return self.settings.mode != "webhook"

    def hold_receiving(self) -> None:
        self._receive = False

    async def start_receiving(self) -> None:
        self._receive = True
        if self._bot is not None and self.settings.mode != "webhook" and self._poll_task is None:
            await self._start_polling()
            log.info("telegram polling started")

    async def stop_receiving(self) -> None:
        """Stop polling; what is in hand is handled and confirmed (what is not comes to the next leader)."""
        self._receive = False
        task, self._poll_task = self._poll_task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._lane_tasks:
            await asyncio.wait(list(self._lane_tasks), timeout=self.stop_grace)
        self._advance_offset()
        with contextlib.suppress(TelegramError):
            await self._confirm_handled()
        log.info("telegram polling stopped")

    async def _start_polling(self) -> None:
        """Idempotent: `start` and `start_receiving` (elected while starting) may both get here."""
        if self._poll_task is not None:
            return
        await self._require_bot().delete_webhook()  # getUpdates refuses to work while a webhook is set
        if self._poll_task is None:
            self._poll_task = asyncio.create_task(self._poll_forever(), name="telegram-poll")

    async def stop(self) -> None:
        """Let the updates in hand finish (up to `stop_grace`), confirm what was handled, disconnect."""
        bot = self._bot
        if bot is None:
            return
        self._stopping = True
        was_running = self._poll_task is not None or self._runner is not None
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
            self._poll_task = None
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._lane_tasks:
            await asyncio.wait(list(self._lane_tasks), timeout=self.stop_grace)
        for task in [*self._lane_tasks, *self._background]:
            task.cancel()
        for task in [*self._lane_tasks, *self._background]:
            with contextlib.suppress(BaseException):
                await task
        self._advance_offset()
        await self._confirm_handled()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        with contextlib.suppress(TelegramError):
            await bot.shutdown()
        self._bot = None
        if was_running:  # a start that failed half-way is cleaned up quietly (the runtime logs the failure)
            log.info("telegram adapter stopped")

    def _gone(self, exc: PlatformGone) -> None:
        """The platform refuses us for good: tell the runtime (which stops us), or just log it."""
        if self._on_gone is not None:
            self._on_gone(exc)
        else:
            log.error("%s", exc.reason)

    def _require_bot(self) -> Bot:
        if self._bot is None:
            raise TryLater("telegram adapter not started")
        return self._bot

    def _secret(self) -> str:
        if not self.settings.webhook_url:
            raise ConfigError("telegram.webhook_url", "required when mode = 'webhook'")
        env = self.settings.webhook_secret_env
        secret = self._webhook_secret or self._environ.get(env, "").strip()
        if not secret:
            raise ConfigError("telegram.webhook_secret_env", f"environment variable {env} is not set")
        if not _SECRET.match(secret):
            raise ConfigError("telegram.webhook_secret_env", "the secret must be 1-256 characters of A-Z a-z 0-9 _ -")
        return secret

    # ------------------------------------------------------------------ inbound
    def _to_inbound(self, update: Update) -> Inbound | None:
        inbound = to_inbound(update, self.username, datetime.now(UTC))
        if inbound is None or inbound.is_private:
            return inbound
        known = self.moves.canonical(inbound.chat.chat_id)  # a moved group keeps its configured id inside
        return replace(inbound, chat=replace(inbound.chat, chat_id=known))

    def _parse(self, data: RawUpdate) -> Update | None:
        try:
            return Update.de_json(data, self._require_bot())
        except Exception:
            log.error("telegram update %s could not be parsed; skipped", data.get("update_id"), exc_info=True)
            return None

    async def _handle_update(self, update: Update) -> bool:
        """Hand one update to the engine; True once it is committed (the update may be confirmed).

        False: the engine deferred it (nothing was committed); it must come again.
        """
        assert self._on_message is not None
        await self._follow_moves(update)
        found = outsider(update, self.is_team_chat)
        if found is not None:
            if update.callback_query is not None:
                await self._answer(update.callback_query)
            self._leave(found)
            return True
        try:
            inbound = self._to_inbound(update)
        except Exception:
            log.exception("telegram update %s could not be read; skipped", update.update_id)
            inbound = None
        if update.callback_query is not None:
            await self._answer(update.callback_query)  # at once: the user's client shows a spinner until then
        if inbound is None:
            return True
        log.debug("telegram update %s -> %s from chat %s", update.update_id, inbound.kind, inbound.chat.chat_id)
        try:
            await self._on_message(inbound)
        except HandlingDeferred as exc:
            log.warning("telegram update %s deferred: %s", update.update_id, exc.reason)
            return False
        if update.callback_query is not None:
            self._in_background(self._remove_keyboard(update.callback_query))
        if inbound.chat.chat_id in self.menus.pending:
            self._in_background(self.menus.register_pending(self._require_bot(), inbound.chat.chat_id))
        return True

    def is_team_chat(self, chat_id: str) -> bool:
        return self.moves.canonical(chat_id) in self._team_chats

    async def _follow_moves(self, update: Update) -> None:
        """A group's service message about its upgrade to a supergroup: remember the new id."""
        msg = update.message
        if msg is None:
            return
        if msg.migrate_to_chat_id is not None:
            await self.moves.moved(str(msg.chat.id), str(msg.migrate_to_chat_id))
        elif msg.migrate_from_chat_id is not None:
            await self.moves.moved(str(msg.migrate_from_chat_id), str(msg.chat.id))

    def _leave(self, found: Outsider) -> None:
        if found.chat_id in self._leaving:
            return
        log_leaving(found)
        self._leaving.add(found.chat_id)

        async def leave() -> None:
            try:
                await self._require_bot().leave_chat(found.chat_id)
            except TelegramError as exc:  # not a member any more, or Telegram is away: next update tries again
                log.warning("telegram: leaving chat %s failed: %s", found.chat_id, redact(exc.message))
            finally:
                self._leaving.discard(found.chat_id)

        self._in_background(leave())

    async def settle(self) -> None:
        """Wait for the calls made off the acknowledgement path (keyboard removal, late menus)."""
        while self._background:
            await asyncio.wait(list(self._background))

    def _in_background(self, work: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("telegram background call failed")

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _answer(self, query: CallbackQuery) -> None:
        try:
            await self._require_bot().answer_callback_query(query.id)
        except TelegramError as exc:  # already answered (a redelivery) or too old: nothing to do
            log.debug("answerCallbackQuery failed: %s", redact(exc.message))

    async def _remove_keyboard(self, query: CallbackQuery) -> None:
        """A used keyboard goes away, so the same question cannot be answered twice."""
        msg = query.message
        if not isinstance(msg, Message) or msg.reply_markup is None:
            return
        chat = str(msg.chat.id)
        try:
            async with self.pacer.slot(chat, private=is_private_chat(chat)):  # an edit counts like a send
                await self._require_bot().edit_message_reply_markup(chat_id=msg.chat.id, message_id=msg.message_id)
        except TelegramError as exc:  # "message is not modified": removed already
            log.debug("removing keyboard failed: %s", redact(exc.message))

    # ------------------------------------------------------------------ long polling
    async def _fetch_updates(self, long_poll: int, limit: int = 100) -> list[RawUpdate]:
        """getUpdates, unparsed. `Bot.get_updates` parses the batch as a whole, so one update PTB cannot
        read would stop the loop for good; here each update is parsed on its own (see `_parse`)."""
        bot, request = self._require_bot(), self._updates_request
        assert request is not None
        query: dict[str, Any] = {"timeout": long_poll, "limit": limit, "allowed_updates": json.dumps(ALLOWED_UPDATES)}
        if self._offset is not None:
            query["offset"] = self._offset
        result = await request.post(f"{bot.base_url}/getUpdates?{urlencode(query)}", read_timeout=long_poll + 10)
        return [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []

    async def _poll_forever(self) -> None:
        backoff = self.retry_backoff
        while not self._stopping:
            try:
                # With updates in hand, no long poll: this call confirms what was handled and picks up
                # what came meanwhile; otherwise wait at Telegram for new updates.
                batch = await self._fetch_updates(0 if self._window else self.poll_timeout)
                backoff = self.retry_backoff
            except RetryAfter as exc:
                await asyncio.sleep(retry_seconds(exc))
                continue
            except InvalidToken:
                self._gone(token_rejected(self.settings.token_env))
                return
            except TelegramError as exc:  # network trouble, Conflict (another instance polls), 5xx
                level = logging.ERROR if isinstance(exc, Conflict) else logging.WARNING
                log.log(level, "telegram getUpdates failed (retrying in %.0fs): %s", backoff, redact(exc.message))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            for data in batch:
                if int(data["update_id"]) not in self._window:
                    self._accept(data)
            if self._in_hand:
                # Let the lanes work: look again once all are handled, or after a short while.
                self._all_handled.clear()
                with contextlib.suppress(TimeoutError):  # not wait_for: it can swallow a stop (3.11)
                    async with asyncio.timeout(REFETCH_WHILE_BUSY):
                        await self._all_handled.wait()
            self._advance_offset()

    def _accept(self, data: RawUpdate) -> None:
        """Queue a new update in its sender's lane (one sender's updates in order)."""
        update_id = int(data["update_id"])
        update = self._parse(data)
        self._window[update_id] = False
        self._in_hand += 1
        key = _sender_key(update, data)
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append((update_id, update))
            return
        self._lanes[key] = [(update_id, update)]
        task = asyncio.create_task(self._run_lane(key), name=f"telegram-lane-{key}")
        self._lane_tasks.add(task)
        task.add_done_callback(self._lane_tasks.discard)

    async def _run_lane(self, key: str) -> None:
        async with self._lane_slots:
            lane = self._lanes[key]
            try:
                while lane and not self._stopping:
                    update_id, update = lane[0]
                    if not await self._handle_until_done(update_id, update):
                        return  # stopping: left unconfirmed, Telegram delivers it again
                    lane.pop(0)
                    self._window[update_id] = True
                    self._in_hand -= 1
                    if not self._in_hand:
                        self._all_handled.set()
            finally:
                del self._lanes[key]

    async def _handle_until_done(self, update_id: int, update: Update | None) -> bool:
        """Handle one update, trying again with back-off while the engine defers it; False if stopping."""
        delay = self.retry_backoff / 2
        while not self._stopping:
            try:
                if update is None or await self._handle_update(update):
                    return True
            except Exception:  # a bug in the adapter: the update comes again after the pause
                log.exception("telegram update %s failed; trying again", update_id)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        return False

    def _advance_offset(self) -> None:
        """Move the offset over the handled prefix of the updates in hand."""
        for update_id in sorted(self._window):
            if not self._window[update_id]:
                break
            del self._window[update_id]
            self._offset = update_id + 1

    async def _confirm_handled(self) -> None:
        """Tell Telegram what was handled, so a restart does not fetch it again (best effort)."""
        if self._offset is None:
            return
        try:
            await self._fetch_updates(long_poll=0, limit=1)
        except TelegramError as exc:
            log.debug("final getUpdates failed: %s", redact(exc.message))

    # ------------------------------------------------------------------ webhook
    async def _start_webhook(self, secret: str) -> None:
        assert self.settings.webhook_url is not None
        path = urlsplit(self.settings.webhook_url).path or "/"
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post(path, self._webhook_handler(secret))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self.stop_grace)
        await runner.setup()
        await web.TCPSite(runner, self.settings.listen, self.settings.port).start()
        self._runner = runner
        try:
            await self._require_bot().set_webhook(
                self.settings.webhook_url,
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=self.settings.webhook_max_connections,
            )
        except BadRequest as exc:  # Telegram refuses the URL or a setting: the operator must act
            raise ConfigError("telegram.webhook_url", f"setWebhook failed: {redact(exc.message)}") from None
        log.info("telegram webhook listening on %s:%s%s", self.settings.listen, self.settings.port, path)
        await self.check_webhook()
        self._webhook_task = asyncio.create_task(self._check_webhook_forever(), name="telegram-webhook-info")

    async def check_webhook(self) -> None:
        """getWebhookInfo: log Telegram's last failure to reach us (each one once), so an operator sees
        a proxy or certificate problem that no request of ours would show."""
        try:
            info = await self._require_bot().get_webhook_info()
        except TelegramError as exc:
            log.warning("telegram getWebhookInfo failed: %s", redact(exc.message))
            return
        date = info.last_error_date
        if info.last_error_message and date is not None and int(date.timestamp()) != self._webhook_error_seen:
            self._webhook_error_seen = int(date.timestamp())
            log.warning(
                "telegram could not deliver to the webhook at %s: %s (%d update(s) waiting)",
                date.isoformat(),
                redact(info.last_error_message),
                info.pending_update_count,
            )

    async def _check_webhook_forever(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.webhook_check_every)
            await self.check_webhook()

    def _webhook_handler(self, secret: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            given = request.headers.get(SECRET_HEADER)
            if given is None:
                return web.Response(status=401)
            if not hmac.compare_digest(given.encode(), secret.encode()):
                log.warning("telegram webhook call with a wrong secret from %s", request.remote)
                return web.Response(status=403)
            try:
                data = await request.json()
            except ValueError:
                return web.Response(status=400)
            update = self._parse(data) if isinstance(data, dict) else None
            # 200 only once committed: any other answer makes Telegram deliver the update again.
            try:
                handled = update is None or await self._handle_update(update)
            except Exception:
                log.exception("telegram webhook update failed; Telegram will deliver it again")
                handled = False
            return web.Response(status=200 if handled else 500)

        return handle

    # ------------------------------------------------------------------ sending
    async def send(self, message: Outbound) -> str:
        """Send `message` (split if long); returns the id of the last Telegram message sent."""
        self._require_bot()
        try:
            parts = render(message)
        except ValueError as exc:
            raise MessageRejected(f"telegram: cannot render message: {exc}") from None
        chat_id = native_chat_id(self.moves.route(message.chat.chat_id))
        message_id = ""
        done = min(message.parts_sent, len(parts) - 1)  # parts that arrived on an earlier attempt
        for index in range(done, len(parts)):
            try:
                chat_id, message_id = await self._send_part(chat_id, parts[index])
            except DeliveryError as exc:
                if len(parts) > 1:
                    exc.parts_sent = index
                raise
        return message_id

    async def _send_part(self, chat_id: int | str, part: Part) -> tuple[int | str, str]:
        """One API call within the pace; retries 429s (bounded) and follows a group's migration."""
        floods = 0
        migrated = False
        while True:
            chat = str(chat_id)
            try:
                async with self.pacer.slot(chat, private=is_private_chat(chat)):
                    sent = await self._call(chat_id, part)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                self.pacer.hold(wait)  # Telegram's flood control covers the whole bot: pause every send
                if self.metrics is not None:
                    self.metrics.rate_limited.labels(platform=PLATFORM).inc()
                floods += 1
                if floods > self.max_flood_retries or wait > self.max_flood_wait:
                    raise TryLater(f"telegram: flood control, retry in {wait:g}s", retry_after=wait) from None
                log.warning("telegram 429: pausing sends for %gs (retry %d)", wait, floods)
                continue
            except ChatMigrated as exc:
                if migrated:
                    raise delivery_error(exc, self.settings.token_env) from None
                await self.moves.moved(str(chat_id), str(exc.new_chat_id))
                chat_id, migrated = exc.new_chat_id, True
                continue
            except TelegramError as exc:
                raise delivery_error(exc, self.settings.token_env) from None
            return chat_id, str(sent)

    async def _call(self, chat_id: int | str, part: Part) -> int:
        """One send; the id of the message Telegram made.

        Text goes through `Bot._post`, the call `Bot.send_message` makes itself, with the same
        parameters (so the same request, and the same errors: RetryAfter, ChatMigrated, Forbidden,
        ...), without parsing the answer into a `Message` of which only the id is read: that cost
        as much CPU as the rest of the send. A photo is rare and stays on the typed call.
        (`Bot.do_api_request` is no way round: it warns on every call to a method `Bot` has, and
        turns a refused token into `EndPointNotFound`.)
        """
        bot = self._require_bot()
        reply = ReplyParameters(part.reply_to, allow_sending_without_reply=True) if part.reply_to is not None else None
        if part.photo is not None:
            sent = await bot.send_photo(
                chat_id,
                InputFile(part.photo.data, filename=part.photo.filename),
                caption=part.text or None,
                reply_markup=part.keyboard,
                reply_parameters=reply,
            )
            return sent.message_id
        data = {"chat_id": chat_id, "text": part.text, "reply_markup": part.keyboard, "reply_parameters": reply}
        result = await bot._post("sendMessage", data)
        return int(result["message_id"])


def _sender_key(update: Update | None, data: RawUpdate) -> str:
    """Updates from one user are handled in order; the engine also locks per user."""
    if update is not None and update.effective_user is not None:
        return f"user:{update.effective_user.id}"
    if update is not None and update.effective_chat is not None:
        return f"chat:{update.effective_chat.id}"
    return f"update:{data.get('update_id')}"
