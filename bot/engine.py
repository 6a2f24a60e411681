"""The conversation engine: one for every platform.

Adapters call `on_message(inbound)`; it returns only after every effect is committed, then sends the
replies through the adapter the message came from. Poll questions never go out from here: they go
through the durable outbox (storage `Delivery` rows) that `bot.delivery.DeliveryWorker` drains.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import DBAPIError

from bot import texts
from bot.adapter import Adapter
from bot.clock import Clock, SystemClock
from bot.commands import CUSTOMER_COMMANDS, MANAGER_COMMANDS, STAFF_COMMANDS, TAG, Command, parse_command
from bot.config import Settings
from bot.errors import DeliveryError
from bot.roles import Role, RolePolicy
from bot.types import FORGET_NO, FORGET_YES, Choice, Inbound, InboundKind, Outbound, rating_choice
from storage.models import Customer, PollRun
from storage.repository import ConversationState, Repository

log = logging.getLogger("feedbot.engine")

FORGET_CONFIRM_WINDOW = timedelta(minutes=10)
HANDLED_RETENTION = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: int
    poll_id: str
    queued: int


def rating_choices(run: PollRun) -> tuple[Choice, ...]:
    low = 0 if run.scale == 10 else 1
    return tuple(Choice(label=str(n), value=rating_choice(int(run.id or 0), n)) for n in range(low, run.scale + 1))


def scale_bounds(run: PollRun) -> tuple[int, int]:
    return (0, 10) if run.scale == 10 else (1, 5)


def clean_text(text: str) -> str:
    return text.replace("\x00", "")


class Engine:
    def __init__(
        self,
        repo: Repository,
        settings: Settings,
        clock: Clock | None = None,
        roles: RolePolicy | None = None,
    ) -> None:
        self.repo = repo
        self.settings = settings
        self.clock = clock or SystemClock()
        self.roles = roles or RolePolicy.from_settings(settings)
        self.adapters: dict[str, Adapter] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._outbox_listeners: list[Callable[[], None]] = []
        # Staff and manager commands live in bot.staff; set by the composition root (bot.app).
        self.staff_commands: StaffCommandHandler | None = None

    # ------------------------------------------------------------------ wiring
    def attach(self, adapter: Adapter) -> None:
        self.adapters[adapter.platform] = adapter

    def on_outbox_change(self, listener: Callable[[], None]) -> None:
        """Called whenever new deliveries are queued (the delivery worker wakes up)."""
        self._outbox_listeners.append(listener)

    def _outbox_changed(self) -> None:
        for listener in self._outbox_listeners:
            listener()

    # ------------------------------------------------------------------ runs
    async def start_run(
        self,
        poll_id: str,
        *,
        triggered_by: str,
        tag: str | None = None,
        scheduled_for: datetime | None = None,
        now: datetime | None = None,
    ) -> RunStarted | None:
        """Create a run and queue one delivery per subscribed, reachable customer.

        Returns None when a scheduled run for this poll and time already exists (another process or an
        earlier fire made it). A crash between creating and queuing is finished by `resume_fan_out`.
        """
        poll = self.settings.poll(poll_id)
        if poll is None:
            raise KeyError(poll_id)
        now = now or self.clock.now()
        base = scheduled_for or now
        run = await self.repo.create_run(
            poll_id=poll.id,
            question=poll.question,
            rating=poll.rating,
            scale=poll.scale,
            tag=tag or poll.tag,
            triggered_by=triggered_by,
            now=now,
            closes_at=base + poll.close_after,
            remind_at=base + poll.remind_after if poll.remind_after else None,
            scheduled_for=scheduled_for,
        )
        if run is None or run.id is None:
            return None
        queued = await self.repo.fan_out(run.id, now)
        log.info("run started poll=%s run=%s queued=%d by=%s", poll.id, run.id, queued, triggered_by)
        self._outbox_changed()
        return RunStarted(run_id=run.id, poll_id=poll.id, queued=queued)

    async def resume_fan_out(self) -> int:
        now = self.clock.now()
        total = 0
        for run_id in await self.repo.runs_not_fanned_out():
            total += await self.repo.fan_out(run_id, now)
        if total:
            self._outbox_changed()
        return total

    # ------------------------------------------------------------------ inbound
    def _lock(self, inbound: Inbound) -> asyncio.Lock:
        key = (inbound.chat.platform, inbound.sender_id)
        lock = self._locks.get(key)
        if lock is None:
            if len(self._locks) > 10_000:
                for k in [k for k, v in self._locks.items() if not v.locked()]:
                    del self._locks[k]
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def on_message(self, inbound: Inbound) -> None:
        """Handle one inbound message; returns once its effects are committed, then replies.

        Database errors propagate, so the adapter does not acknowledge and the platform re-delivers.
        Any other failure is a bug: it is logged, the user gets an apology, and the update counts as handled.
        """
        log.info(
            "inbound platform=%s chat=%s user=%s kind=%s msg=%s",
            inbound.chat.platform,
            inbound.chat.chat_id,
            inbound.sender_id,
            inbound.kind.value,
            inbound.message_id,
        )
        log.debug("inbound text=%r choice=%r", inbound.text, inbound.choice)
        async with self._lock(inbound):
            dedupe = inbound.kind is not InboundKind.EDIT
            key = (inbound.chat.platform, inbound.chat.chat_id, inbound.message_id, inbound.kind.value)
            if dedupe and await self.repo.was_handled(*key):
                log.info("duplicate update ignored platform=%s msg=%s", inbound.chat.platform, inbound.message_id)
                return
            try:
                replies = await self._handle(inbound)
            except DBAPIError:
                raise
            except Exception:
                log.exception("bug while handling platform=%s msg=%s", inbound.chat.platform, inbound.message_id)
                replies = [self._reply(inbound, texts.ERROR)]
            if dedupe:
                await self.repo.mark_handled(*key, now=self.clock.now())
        for reply in replies:
            await self.send_reply(reply)

    async def send_reply(self, message: Outbound) -> str | None:
        adapter = self.adapters.get(message.chat.platform)
        if adapter is None:
            log.error("no adapter for platform=%s", message.chat.platform)
            return None
        try:
            return await adapter.send(message)
        except DeliveryError as exc:
            log.warning(
                "reply failed platform=%s chat=%s permanent=%s reason=%s",
                message.chat.platform,
                message.chat.chat_id,
                exc.permanent,
                exc.reason,
            )
            if exc.permanent and message.chat.user_id:
                await self.repo.set_reachable(
                    message.chat.platform, message.chat.user_id, False, exc.reason, self.clock.now()
                )
            return None

    @staticmethod
    def _reply(inbound: Inbound, text: str, choices: tuple[Choice, ...] = ()) -> Outbound:
        return Outbound(chat=inbound.chat, text=text, choices=choices, reply_to=inbound.message_id)

    async def _handle(self, inbound: Inbound) -> list[Outbound]:
        now = self.clock.now()
        if inbound.kind is InboundKind.BLOCKED:
            await self.repo.set_reachable(inbound.chat.platform, inbound.sender_id, False, "user blocked the bot", now)
            return []
        if inbound.kind is InboundKind.UNBLOCKED:
            await self.repo.set_reachable(inbound.chat.platform, inbound.sender_id, True, None, now)
            return []
        text = clean_text(inbound.text)
        if inbound.kind is InboundKind.TEXT and text.lstrip().startswith("/"):
            command = parse_command(text)
            if command is None:
                return [self._reply(inbound, self._help_for(inbound))]
            return await self._command(inbound, command)
        if not inbound.is_private:
            return []  # ordinary chatter in a group or channel is none of our business
        if inbound.kind is InboundKind.EDIT:
            await self._edit(inbound, text)
            return []
        if inbound.kind is InboundKind.MEDIA:
            return [self._reply(inbound, texts.ASK_IN_WORDS)]
        state = await self.repo.conversation_state(inbound.chat.platform, inbound.sender_id, self._source_id(inbound))
        if inbound.kind is InboundKind.CHOICE:
            return await self._choice(inbound, state)
        return await self._text(inbound, state, text)

    # ------------------------------------------------------------------ customer text
    async def _text(self, inbound: Inbound, state: ConversationState, text: str) -> list[Outbound]:
        customer = state.customer
        if state.source_answered:
            return []  # this message is stored already (re-delivered after a crash before it was marked)
        if customer is None or customer.id is None:
            return [self._reply(inbound, texts.NOT_SUBSCRIBED)]
        if not text.strip():
            return [self._reply(inbound, texts.ASK_IN_WORDS)]
        if customer.forget_requested_at is not None and text.strip().lower() in {"yes", "no", "y", "n"}:
            return await self._forget_answer(inbound, customer, text.strip().lower().startswith("y"))
        if inbound.choice and inbound.choice.startswith("answer:"):
            return await self._targeted_answer(inbound, customer, text)
        awaiting = state.awaiting_rating
        if awaiting is not None:
            answer, rated_run = awaiting
            low, high = scale_bounds(rated_run)
            if text.strip().isdigit() and low <= int(text.strip()) <= high:
                await self.repo.rate_answer(customer.id, answer.run_id, int(text.strip()))
                return [self._reply(inbound, texts.RATING_THANKS)]
        run = state.open_run
        if run is None:
            if awaiting is not None:
                low, high = scale_bounds(awaiting[1])
                return [
                    self._reply(inbound, texts.RATING_AGAIN.format(low=low, high=high), rating_choices(awaiting[1]))
                ]
            return [self._reply(inbound, texts.NO_OPEN_QUESTION)]
        return await self._record(inbound, customer, run, text, rating=None)

    async def _targeted_answer(self, inbound: Inbound, customer: Customer, text: str) -> list[Outbound]:
        """A text that says which run it answers (Discord's modal), optionally with its rating."""
        parts = (inbound.choice or "").split(":")
        try:
            run_id = int(parts[1])
            rating = int(parts[2]) if len(parts) > 2 and parts[2] != "" else None
        except (IndexError, ValueError):
            return [self._reply(inbound, texts.NO_OPEN_QUESTION)]
        assert customer.id is not None
        run = await self.repo.delivered_unanswered_run(customer.id, run_id)
        if run is None:
            return [self._reply(inbound, texts.NO_OPEN_QUESTION)]
        if rating is not None:
            low, high = scale_bounds(run)
            if not (run.rating and low <= rating <= high):
                rating = None
        return await self._record(inbound, customer, run, text, rating=rating)

    async def _record(
        self, inbound: Inbound, customer: Customer, run: PollRun, text: str, rating: int | None
    ) -> list[Outbound]:
        assert customer.id is not None and run.id is not None
        if len(text) > texts.MAX_ANSWER_CHARS:
            return [self._reply(inbound, texts.TOO_LONG.format(length=len(text), limit=texts.MAX_ANSWER_CHARS))]
        source = self._source_id(inbound)
        now = self.clock.now()
        late = now > run.closes_at
        wants_rating = run.rating and rating is None
        answer = await self.repo.record_answer(
            run_id=run.id,
            customer_id=customer.id,
            text=text,
            source_message_id=source,
            now=now,
            late=late,
            await_rating=wants_rating,
            rating=rating,
        )
        if answer is None:
            return []
        log.info("answer stored run=%s customer=%s late=%s", run.id, customer.id, late)
        if wants_rating:
            low, high = scale_bounds(run)
            return [self._reply(inbound, texts.ASK_RATING.format(low=low, high=high), rating_choices(run))]
        return [self._reply(inbound, texts.THANKS_LATE if late else texts.THANKS)]

    async def _edit(self, inbound: Inbound, text: str) -> None:
        if not text.strip() or len(text) > texts.MAX_ANSWER_CHARS:
            return  # an edit that would make the answer invalid keeps the stored version
        if await self.repo.edit_answer(self._source_id(inbound), text, self.clock.now()):
            log.info("answer edited platform=%s msg=%s", inbound.chat.platform, inbound.message_id)

    @staticmethod
    def _source_id(inbound: Inbound) -> str:
        return f"{inbound.chat.platform}:{inbound.chat.chat_id}:{inbound.message_id}"[:200]

    # ------------------------------------------------------------------ buttons
    async def _choice(self, inbound: Inbound, state: ConversationState) -> list[Outbound]:
        value = inbound.choice or ""
        customer = state.customer
        if customer is None or customer.id is None:
            return [self._reply(inbound, texts.NOT_SUBSCRIBED)]
        if value in (FORGET_YES, FORGET_NO):
            return await self._forget_answer(inbound, customer, value == FORGET_YES)
        if value.startswith("rate:"):
            try:
                _, run_part, score_part = value.split(":")
                run_id, score = int(run_part), int(score_part)
            except ValueError:
                return []
            awaiting = state.awaiting_rating
            if awaiting is None or awaiting[0].run_id != run_id:
                return [self._reply(inbound, texts.RATING_ALREADY)]
            low, high = scale_bounds(awaiting[1])
            if not low <= score <= high:
                return []
            await self.repo.rate_answer(customer.id, run_id, score)
            return [self._reply(inbound, texts.RATING_THANKS)]
        return []

    # ------------------------------------------------------------------ commands
    def _help_for(self, inbound: Inbound) -> str:
        role = self.roles.role_of(inbound)
        text = texts.HELP
        if role >= Role.STAFF:
            text += texts.STAFF_HELP
        if role >= Role.MANAGER:
            text += texts.MANAGER_HELP
        return text

    async def _command(self, inbound: Inbound, command: Command) -> list[Outbound]:
        if command.name in STAFF_COMMANDS or command.name in MANAGER_COMMANDS:
            needed = Role.MANAGER if command.name in MANAGER_COMMANDS else Role.STAFF
            role = self.roles.role_of(inbound)
            if role < needed:
                log.warning(
                    "refused command=/%s platform=%s user=%s role=%s",
                    command.name,
                    inbound.chat.platform,
                    inbound.sender_id,
                    role.name.lower(),
                )
                who = "managers" if needed is Role.MANAGER else "staff"
                return [self._reply(inbound, texts.NOT_ALLOWED.format(role=who))]
            if self.staff_commands is None:
                return [self._reply(inbound, self._help_for(inbound))]
            return await self.staff_commands.handle(inbound, command, role)
        if command.name not in CUSTOMER_COMMANDS or command.name == "help":
            return [self._reply(inbound, self._help_for(inbound))]
        if command.name == "privacy":
            return [self._reply(inbound, texts.privacy(self.settings.engine.privacy_url))]
        if not inbound.is_private:
            what = {"start": "subscribe", "stop": "unsubscribe", "mydata": "see your data", "forget": "erase your data"}
            return [self._reply(inbound, texts.GROUP_HINT.format(what=what[command.name]))]
        customer = await self.repo.find_customer(inbound.chat.platform, inbound.sender_id)
        if command.name == "start":
            return await self._start(inbound, command)
        if customer is None or customer.id is None:
            return [
                self._reply(inbound, texts.NO_DATA if command.name in {"mydata", "forget"} else texts.NOT_SUBSCRIBED)
            ]
        if command.name == "stop":
            await self.repo.unsubscribe(customer.id, self.clock.now())
            return [self._reply(inbound, texts.STOPPED)]
        if command.name == "mydata":
            data = await self.repo.customer_data(customer.id)
            body = json.dumps(data, ensure_ascii=False, indent=1)
            return [self._reply(inbound, f"{texts.MYDATA_INTRO}\n{body}")]
        await self.repo.request_forget(customer.id, self.clock.now())
        return [
            self._reply(
                inbound,
                texts.FORGET_CONFIRM,
                (Choice("Yes, erase everything", FORGET_YES), Choice("No, keep it", FORGET_NO)),
            )
        ]

    async def _start(self, inbound: Inbound, command: Command) -> list[Outbound]:
        tag = command.args[0] if command.args else None
        notes: list[str] = []
        if tag is not None and not TAG.match(tag):
            tag = None
            notes.append(texts.BAD_TAG)
        customer, _created = await self.repo.subscribe(
            platform=inbound.chat.platform,
            user_id=inbound.sender_id,
            chat_id=inbound.chat.chat_id,
            display_name=clean_text(inbound.sender_name),
            language=inbound.language,
            tag=tag,
            now=self.clock.now(),
        )
        log.info("subscribed platform=%s user=%s tag=%s", inbound.chat.platform, inbound.sender_id, tag)
        rating = any(p.rating for p in self.settings.polls) if self.settings.polls else True
        text = texts.welcome(clean_text(inbound.sender_name).strip()[:64], rating)
        return [self._reply(inbound, "\n".join([text, *notes]))]

    async def _forget_answer(self, inbound: Inbound, customer: Customer, confirmed: bool) -> list[Outbound]:
        assert customer.id is not None
        requested = customer.forget_requested_at
        if requested is None:
            return [self._reply(inbound, texts.FORGET_EXPIRED)] if confirmed else []
        if not confirmed:
            await self.repo.cancel_forget(customer.id)
            return [self._reply(inbound, texts.FORGET_CANCELLED)]
        if self.clock.now() - requested > FORGET_CONFIRM_WINDOW:
            await self.repo.cancel_forget(customer.id)
            return [self._reply(inbound, texts.FORGET_EXPIRED)]
        await self.repo.erase_customer(customer.id)
        log.info("customer erased platform=%s user=%s", inbound.chat.platform, inbound.sender_id)
        return [self._reply(inbound, texts.FORGET_DONE)]

    async def prune(self) -> int:
        return await self.repo.prune_handled(self.clock.now() - HANDLED_RETENTION)


class StaffCommandHandler(Protocol):
    """bot.staff.StaffCommands; the engine checks the role before calling it."""

    async def handle(self, inbound: Inbound, command: Command, role: Role) -> list[Outbound]: ...
