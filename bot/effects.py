"""What handling a message decides to change, as data: a `Decision` is effects plus replies.

Deciding reads a snapshot and returns a Decision without any I/O; `apply` then writes the effects and
queues the replies in the transaction that also holds the message's dedupe claim (bot.engine), so
all of it commits together or not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from bot.outbox_codec import to_row
from bot.types import Outbound
from storage.models import DeliveryKind
from storage.store import Unit

log = logging.getLogger("feedbot.engine")


@dataclass(frozen=True, slots=True)
class Subscribe:
    platform: str
    user_id: str
    chat_id: str
    display_name: str
    language: str | None
    tag: str | None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    customer_id: int


@dataclass(frozen=True, slots=True)
class Pause:
    customer_id: int
    until: datetime


@dataclass(frozen=True, slots=True)
class SetReachable:
    platform: str
    user_id: str
    reachable: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """The customer's app language changed: later questions and reminders follow it."""

    customer_id: int
    language: str


@dataclass(frozen=True, slots=True)
class RecordAnswer:
    run_id: int
    customer_id: int
    text: str
    source_message_id: str
    answered_at: datetime  # the platform's message time, not when we processed it
    late: bool
    await_rating: bool
    rating: int | None = None


@dataclass(frozen=True, slots=True)
class RateAnswer:
    customer_id: int
    run_id: int
    score: int


@dataclass(frozen=True, slots=True)
class EditAnswer:
    source_message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class AddWords:
    """The words to an answer that was a bare rating so far."""

    answer_id: int
    text: str


@dataclass(frozen=True, slots=True)
class RequestForget:
    customer_id: int


@dataclass(frozen=True, slots=True)
class CancelForget:
    customer_id: int


@dataclass(frozen=True, slots=True)
class Erase:
    """Everything about the customer goes, with the dedupe claims and dead letters of their chat."""

    customer_id: int
    platform: str
    chat_id: str


Effect = (
    Subscribe
    | Unsubscribe
    | Pause
    | SetReachable
    | SetLanguage
    | RecordAnswer
    | RateAnswer
    | EditAnswer
    | AddWords
    | RequestForget
    | CancelForget
    | Erase
)


@dataclass(frozen=True, slots=True)
class Decision:
    effects: tuple[Effect, ...] = ()
    replies: tuple[Outbound, ...] = ()
    customer_id: int | None = None  # the customer the replies belong to, when there is one

    @classmethod
    def reply(cls, *replies: Outbound, customer_id: int | None = None) -> Decision:
        return cls(replies=replies, customer_id=customer_id)


@dataclass(slots=True)
class Applied:
    replies: int = 0
    answer_ids: list[int] = field(default_factory=list)
    answered_runs: list[int] = field(default_factory=list)  # runs this message answered (new answers)


async def apply(unit: Unit, decision: Decision, now: datetime) -> Applied:
    """Write the effects in order, then queue the replies (in the caller's transaction)."""
    result = Applied()
    customer_id = decision.customer_id
    for effect in decision.effects:
        match effect:
            case Subscribe():
                customer_id = await unit.customers.subscribe(
                    platform=effect.platform,
                    user_id=effect.user_id,
                    chat_id=effect.chat_id,
                    display_name=effect.display_name,
                    language=effect.language,
                    tag=effect.tag,
                    now=now,
                )
                log.info("subscribed platform=%s user=%s tag=%s", effect.platform, effect.user_id, effect.tag)
            case Unsubscribe():
                await unit.customers.unsubscribe(effect.customer_id, now)
            case Pause():
                await unit.customers.pause(effect.customer_id, effect.until, now)
            case SetReachable():
                await unit.customers.set_reachable(
                    effect.platform, effect.user_id, effect.reachable, effect.reason, now
                )
            case SetLanguage():
                await unit.customers.set_language(effect.customer_id, effect.language, now)
            case RecordAnswer():
                answer_id = await unit.conversation.record_answer(
                    run_id=effect.run_id,
                    customer_id=effect.customer_id,
                    text=effect.text,
                    source_message_id=effect.source_message_id,
                    answered_at=effect.answered_at,
                    late=effect.late,
                    await_rating=effect.await_rating,
                    rating=effect.rating,
                    now=now,
                )
                if answer_id is not None:
                    result.answer_ids.append(answer_id)
                    result.answered_runs.append(effect.run_id)
                    log.info("answer stored run=%s customer=%s late=%s", effect.run_id, effect.customer_id, effect.late)
            case RateAnswer():
                await unit.conversation.rate_answer(effect.customer_id, effect.run_id, effect.score)
            case EditAnswer():
                await unit.conversation.edit_answer(effect.source_message_id, effect.text, now)
            case AddWords():
                await unit.conversation.add_words(effect.answer_id, effect.text, now)
            case RequestForget():
                await unit.customers.request_forget(effect.customer_id, now)
            case CancelForget():
                await unit.customers.cancel_forget(effect.customer_id)
            case Erase():
                await unit.customers.erase(effect.customer_id)
                await unit.inbound.forget_chat(effect.platform, effect.chat_id)
                customer_id = None
                log.info("customer erased platform=%s chat=%s", effect.platform, effect.chat_id)
    for reply in decision.replies:
        await unit.outbox.queue(to_row(reply, DeliveryKind.REPLY, customer_id=customer_id), now)
        result.replies += 1
    return result
