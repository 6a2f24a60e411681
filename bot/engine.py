"""The conversation engine: one for every platform.

`on_message(inbound)` handles one inbound message as one unit of work, in one database transaction:
(a) claim the update's dedupe key (claimed already: it was handled, stop), (b) read the snapshot and
decide (bot.conversation for customer messages, the command registry for commands), (c) apply the
effects and queue every reply in the outbox. It returns once that transaction is committed, so the
adapter may then acknowledge the platform. Nothing is sent from here: replies, like questions, leave
through the delivery worker.

Failures are told apart by cause, so one odd message never stalls the others:
- the database is unavailable for now (storage.errors.StorageUnavailable): `HandlingDeferred`, the
  adapter does not acknowledge and the update comes again;
- the database refuses the data itself (StorageRejected): the customer is told, the update is
  acknowledged;
- anything else is a bug: the update is retried a few times, then set aside as a dead letter with
  its error (`feedbot deadletters`), the customer gets an apology, and it is acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta

from bot import texts
from bot.adapter import Handled
from bot.choices import AnswerChoice, parse_choice
from bot.commands import (
    Command,
    CommandContext,
    CommandRegistry,
    CommandSpec,
    Place,
    PrepareContext,
    Reporting,
    Where,
    command_with_text,
    default_registry,
    parse_command,
)
from bot.config import Settings
from bot.conversation import decide, reply, source_id
from bot.effects import Decision, SetLanguage, apply
from bot.errors import HandlingDeferred
from bot.platforms import alert_chats, digest_chats, role_policy
from bot.roles import Role, RolePolicy
from bot.runs import RunStarted, start_run
from bot.runtime.clock import Clock, SystemClock
from bot.runtime.metrics import Metrics
from bot.signals import OutboxSignal
from bot.texts import Text
from bot.types import ChatRef, Inbound, InboundKind
from storage.customers import CustomerRecord
from storage.errors import StorageRejected, StorageUnavailable, classify
from storage.inbound import UpdateKey
from storage.models import DeadLetterStatus
from storage.store import Store, Unit

log = logging.getLogger("feedbot.engine")

HANDLED_RETENTION = timedelta(days=2)
HANDLING_ATTEMPTS = 3  # a message failing with a bug this often is set aside
NAME_LIMIT = 256
LANGUAGE_LIMIT = 16


def sanitise(inbound: Inbound) -> Inbound:
    """Validate at the edge: nothing odd reaches the database as an error.

    NUL is dropped (PostgreSQL text cannot hold it), names and language tags are cut to their
    columns, and an answer's length limit is the engine's to refuse with a clear reply.
    """
    language = inbound.language.replace("\x00", "")[:LANGUAGE_LIMIT] if inbound.language else None
    return replace(
        inbound,
        text=inbound.text.replace("\x00", ""),
        sender_name=inbound.sender_name.replace("\x00", "")[:NAME_LIMIT],
        language=language or None,
        choice=inbound.choice.replace("\x00", "")[:200] if inbound.choice else None,
    )


def update_key(inbound: Inbound) -> UpdateKey:
    return UpdateKey(inbound.chat.platform, inbound.chat.chat_id, inbound.update_id, inbound.kind.value)


def inbound_to_json(inbound: Inbound) -> str:
    data = asdict(inbound)
    data["received_at"] = inbound.received_at.isoformat()
    data["sender_roles"] = sorted(inbound.sender_roles)
    data["reply_handle"] = None  # short-lived credentials are not kept
    return json.dumps(data, ensure_ascii=False)


def inbound_from_json(text: str) -> Inbound:
    data = json.loads(text)
    data["chat"] = ChatRef(**data["chat"])
    data["received_at"] = datetime.fromisoformat(data["received_at"])
    data["kind"] = InboundKind(data["kind"])
    data["sender_roles"] = frozenset(data.get("sender_roles", ()))
    return Inbound(**data)


def _follow_language(decision: Decision, customer: CustomerRecord | None, inbound: Inbound) -> Decision:
    """Keep the stored language current, so questions sent later are in the language the app now has."""
    if customer is None or not inbound.language or inbound.language == customer.language:
        return decision
    return replace(decision, effects=(SetLanguage(customer.id, inbound.language), *decision.effects))


class Engine:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Clock | None = None,
        roles: RolePolicy | None = None,
        registry: CommandRegistry | None = None,
        reporting: Reporting | None = None,
        outbox_signal: OutboxSignal | None = None,
        handling_attempts: int = HANDLING_ATTEMPTS,
        metrics: Metrics | None = None,
        team_chats: Iterable[ChatRef] | None = None,
        alerts: Sequence[ChatRef] | None = None,
    ) -> None:
        self.store = store
        # The staff chats problem answers and customers' follow-ups are posted to.
        self.alert_chats = tuple(alert_chats(settings) if alerts is None else alerts)
        self.settings = settings
        self.clock = clock or SystemClock()
        self.roles = roles or role_policy(settings)
        self.registry = registry or default_registry()
        self.reporting = reporting
        self.outbox_signal = outbox_signal or OutboxSignal()
        self.handling_attempts = handling_attempts
        self.metrics = metrics or Metrics()
        # Where staff may act besides private chats: the digest chats, and the chats alerts are posted to
        # (staff answer an alert where they read it).
        chats = [*(digest_chats(settings) if team_chats is None else team_chats), *self.alert_chats]
        self.team_chats = frozenset((chat.platform, chat.chat_id) for chat in chats)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._failed: set[UpdateKey] = set()  # keys that failed in this process (their counter is cleared on success)

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
        """Create a run and queue its questions (one transaction). None: the scheduled run exists."""
        async with self.store.unit() as unit:
            started = await start_run(
                unit,
                self.settings,
                poll_id,
                triggered_by=triggered_by,
                tag=tag,
                scheduled_for=scheduled_for,
                now=now or self.clock.now(),
            )
        if started is not None:
            self.outbox_signal.notify()
        return started

    async def resume_fan_out(self) -> int:
        """Runs written by an older feedbot that created runs and questions in two steps."""
        total = 0
        async with self.store.unit() as unit:
            for run_id in await unit.runs.not_fanned_out():
                run = await unit.runs.get(run_id)
                total += await unit.outbox.fan_out(run_id, run.tag if run else None, self.clock.now())
                await unit.runs.mark_fanned_out(run_id)
        if total:
            self.outbox_signal.notify()
        return total

    # ------------------------------------------------------------------ inbound
    def _lock(self, inbound: Inbound) -> asyncio.Lock:
        """One sender's messages are handled one at a time, in the order they arrive."""
        key = (inbound.chat.platform, inbound.sender_id)
        lock = self._locks.get(key)
        if lock is None:
            if len(self._locks) > 10_000:
                for k in [k for k, v in self._locks.items() if not v.locked()]:
                    del self._locks[k]
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def on_message(self, inbound: Inbound) -> Handled:
        """Handle one inbound message as one transaction; see the module docstring for failures."""
        inbound = sanitise(inbound)
        key = update_key(inbound)
        log.info(
            "inbound platform=%s chat=%s user=%s kind=%s msg=%s",
            inbound.chat.platform,
            inbound.chat.chat_id,
            inbound.sender_id,
            inbound.kind.value,
            inbound.message_id,
        )
        log.debug("inbound text=%r choice=%r", inbound.text, inbound.choice)
        platform = inbound.chat.platform
        self.metrics.updates_received.labels(platform=platform).inc()
        async with self._lock(inbound):
            try:
                handled = await self._handle_once(inbound, key)
            except HandlingDeferred:
                raise
            except Exception as exc:
                handled = await self._failed_handling(inbound, key, exc)
        self.metrics.updates_handled.labels(platform=platform).inc()
        if handled.dead_lettered:
            self.metrics.updates_dead_lettered.labels(platform=platform).inc()
        if handled.replies:
            self.outbox_signal.notify()
        return handled

    async def _handle_once(self, inbound: Inbound, key: UpdateKey) -> Handled:
        command = self._command_of(inbound)
        spec = self._spec(command)
        prepared = None
        if spec is not None and spec.prepare is not None and self._refusal(inbound, spec) is None:
            async with self.store.read() as unit:
                if await unit.inbound.seen(key):
                    return Handled(duplicate=True)
            assert command is not None
            prepared = await spec.prepare(
                PrepareContext(inbound, command, self.clock.now(), self.settings, self.reporting)
            )
        async with self.store.unit() as unit:
            now = self.clock.now()
            if not await unit.inbound.claim(key, now):
                log.info("duplicate update ignored platform=%s msg=%s", inbound.chat.platform, inbound.message_id)
                return Handled(duplicate=True)
            decision = await self._decide(unit, inbound, command, spec, now, prepared)
            applied = await apply(unit, decision, now, self.alert_chats, self.settings.voice(None))
            if key in self._failed:
                await unit.inbound.clear_failures(key)
        self._failed.discard(key)
        if applied.answer_ids:
            self.metrics.answers_stored.inc(len(applied.answer_ids))
        return Handled(replies=applied.replies, answered_runs=tuple(applied.answered_runs))

    # ------------------------------------------------------------------ deciding
    def _command_of(self, inbound: Inbound) -> Command | None:
        if inbound.kind is not InboundKind.TEXT or inbound.choice is not None:
            return None
        if not inbound.text.lstrip().startswith("/"):
            return None
        command = parse_command(inbound.text)
        if not inbound.is_private and (command is None or self.registry.get(command.name) is None):
            # In a shared chat, "/word" may be another bot's command or a file path: not ours to answer.
            return None
        return command or Command("help", ())

    def _spec(self, command: Command | None) -> CommandSpec | None:
        if command is None:
            return None
        return self.registry.get(command.name) or self.registry.get("help")

    @staticmethod
    async def _alert_replied_to(unit: Unit, inbound: Inbound) -> int | None:
        """A message replying to one of our staff alerts (in a group, or a staff member's private chat
        when alerts go there): the answer it is about (staff answer with it)."""
        if inbound.reply_to is None or inbound.kind is not InboundKind.TEXT:
            return None
        if inbound.choice is not None or not inbound.text.strip():
            return None
        return await unit.followups.answer_for_message(inbound.chat.platform, inbound.chat.chat_id, inbound.reply_to)

    def _refusal(self, inbound: Inbound, spec: CommandSpec) -> str | None:
        say = self.settings.voice(inbound.language)
        role = self.roles.role_of(inbound)
        if role < spec.role:
            log.warning(
                "refused command=/%s platform=%s user=%s role=%s",
                spec.name,
                inbound.chat.platform,
                inbound.sender_id,
                role.name.lower(),
            )
            return say(texts.NOT_ALLOWED_MANAGERS if spec.role is Role.MANAGER else texts.NOT_ALLOWED_STAFF)
        if not spec.place.allows(self._where(inbound)):
            log.warning(
                "refused command=/%s platform=%s chat=%s user=%s: not allowed here",
                spec.name,
                inbound.chat.platform,
                inbound.chat.chat_id,
                inbound.sender_id,
            )
            if spec.place is Place.PRIVATE:
                return say(texts.GROUP_HINT, what=say(spec.purpose))
            return say(texts.TEAM_ONLY_HERE)
        return None

    def _where(self, inbound: Inbound) -> Where:
        return Where(
            private=inbound.is_private,
            seen_by_sender_only=inbound.seen_by_sender_only,
            team_chat=(inbound.chat.platform, inbound.chat.chat_id) in self.team_chats,
        )

    async def _decide(
        self,
        unit: Unit,
        inbound: Inbound,
        command: Command | None,
        spec: CommandSpec | None,
        now: datetime,
        prepared: object,
    ) -> Decision:
        if command is None and (answer_id := await self._alert_replied_to(unit, inbound)) is not None:
            if self.roles.role_of(inbound) < Role.STAFF:
                log.info("reply to a staff alert by a non-staff member ignored user=%s", inbound.sender_id)
                return Decision()
            command = command_with_text("reply", f"{answer_id} {inbound.text}")
            spec = self.registry.get("reply")
        if command is None or spec is None:
            target = parse_choice(inbound.choice)
            snapshot = await unit.conversation.snapshot(
                inbound.chat.platform,
                inbound.sender_id,
                source_id(inbound),
                target.run_id if isinstance(target, AnswerChoice) else None,
            )
            language = inbound.language or (snapshot.customer.language if snapshot.customer else None)
            decision = _follow_language(
                decide(snapshot, inbound, now, self.settings.voice(language)), snapshot.customer, inbound
            )
            return await self._one_reply_per_album(unit, inbound, decision, now)
        refusal = self._refusal(inbound, spec)
        if refusal is not None:
            return Decision.reply(reply(inbound, refusal))
        customer = await unit.customers.find(inbound.chat.platform, inbound.sender_id, lock=True)
        language = inbound.language or (customer.language if customer else None)
        context = CommandContext(
            inbound=inbound,
            command=command,
            role=self.roles.role_of(inbound),
            now=now,
            settings=self.settings,
            unit=unit,
            customer=customer,
            registry=self.registry,
            say=self.settings.voice(language),
            prepared=prepared,
        )
        return _follow_language(await spec.handler(context), customer, inbound)

    @staticmethod
    async def _one_reply_per_album(unit: Unit, inbound: Inbound, decision: Decision, now: datetime) -> Decision:
        """An album arrives as one message per photo: only the first that gets a reply gets one.

        A part that changes something (its caption is the answer) is always answered; a bare photo of
        an album already answered is not ("please answer in words" once, not once per photo).
        """
        if inbound.media_group is None or not decision.replies:
            return decision
        album = UpdateKey(inbound.chat.platform, inbound.chat.chat_id, f"album:{inbound.media_group}"[:200], "album")
        first = await unit.inbound.claim(album, now)
        if first or decision.effects:
            return decision
        return replace(decision, replies=())

    # ------------------------------------------------------------------ failures
    async def _failed_handling(self, inbound: Inbound, key: UpdateKey, exc: Exception) -> Handled:
        cause = classify(exc)
        where = f"platform={inbound.chat.platform} chat={inbound.chat.chat_id} msg={inbound.message_id}"
        if isinstance(cause, StorageUnavailable):
            log.warning("database unavailable, update not acknowledged %s: %s", where, cause)
            raise HandlingDeferred(f"database unavailable: {cause}", retry_after=1.0) from exc
        if isinstance(cause, StorageRejected):
            log.warning("database refused the data of %s: %s", where, cause)
            return await self._settle(inbound, key, texts.CANNOT_STORE)
        log.error("bug while handling %s", where, exc_info=exc)
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
        try:
            async with self.store.unit() as unit:
                letter = await unit.inbound.record_failure(
                    key,
                    user_id=inbound.sender_id,
                    inbound=inbound_to_json(inbound),
                    error=error,
                    now=self.clock.now(),
                    dead_after=self.handling_attempts,
                )
        except Exception as record_error:
            raise HandlingDeferred(f"could not record the failure: {record_error}") from exc
        self._failed.add(key)
        if letter.status != DeadLetterStatus.DEAD:
            raise HandlingDeferred(f"failed {letter.attempts} time(s): {error}", retry_after=0.5 * letter.attempts)
        log.error("update set aside as dead letter %d after %d attempts %s", letter.id, letter.attempts, where)
        handled = await self._settle(inbound, key, texts.ERROR)
        self._failed.discard(key)
        return replace(handled, dead_lettered=True)

    async def _settle(self, inbound: Inbound, key: UpdateKey, text: Text) -> Handled:
        """Acknowledge an update that cannot be handled: claim it and tell the sender, nothing else."""
        said = self.settings.voice(inbound.language)(text)
        try:
            async with self.store.unit() as unit:
                if not await unit.inbound.claim(key, self.clock.now()):
                    return Handled(duplicate=True)
                applied = await apply(unit, Decision.reply(reply(inbound, said)), self.clock.now())
        except Exception as exc:
            raise HandlingDeferred(f"could not settle the update: {exc}") from exc
        return Handled(replies=applied.replies)

    async def replay(self, letter_id: int) -> Handled:
        """Handle a dead letter again (after the bug is fixed): `feedbot deadletters --retry ID`."""
        async with self.store.unit() as unit:
            letter = await unit.inbound.dead_letter(letter_id)
            if letter is None:
                raise KeyError(letter_id)
            await unit.inbound.unclaim(letter.key)
            await unit.inbound.mark_replayed(letter_id)
        inbound = inbound_from_json(letter.inbound)
        handled = await self.on_message(inbound)
        if handled.replies:
            self.outbox_signal.notify()
        return handled

    # ------------------------------------------------------------------ housekeeping
    async def prune(self, retention: timedelta = HANDLED_RETENTION) -> int:
        before = self.clock.now() - retention
        async with self.store.unit() as unit:
            pruned = await unit.inbound.prune(before)
            pruned += await unit.outbox.prune_sent(before)
        return pruned
