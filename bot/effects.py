"""What handling a message decides to change, as data: a `Decision` is effects plus replies.

Deciding reads a snapshot and returns a Decision without any I/O; `apply` then writes the effects and
queues the replies in the transaction that also holds the message's dedupe claim (bot.engine), so
all of it commits together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot import texts
from bot.i18n import Voice
from bot.outbox_codec import to_row
from bot.quotes import sanitise_quote
from bot.types import ChatRef, Outbound
from storage.followups import CUSTOMER, STAFF
from storage.models import DeliveryKind
from storage.runs import ANONYMOUS
from storage.store import Unit

ENGLISH = Voice("en")  # the default for callers without a team language

log = logging.getLogger("feedbot.engine")

FORWARD_LENGTH = 3500  # a forwarded follow-up is the customer's whole message, folded to one line


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
    salt: str | None = None  # an anonymous run's: the answer is stored under a pseudonym


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


@dataclass(frozen=True, slots=True)
class AlertStaff:
    """The customer's answer to the run was rated as a problem: post it to the staff chats at once."""

    customer_id: int
    run_id: int
    answer_id: int | None = None  # known when a rating completes it; else the answer just recorded


@dataclass(frozen=True, slots=True)
class StaffReply:
    """A staff member answers a customer about their answer; the customer's next message is a follow-up."""

    answer_id: int
    customer_id: int
    to: ChatRef  # the customer's private chat
    message: str  # what the customer receives (the staff's words, introduced)
    text: str  # the staff's own words, as stored
    staff_user: str  # "platform:user id"
    until: datetime  # the follow-up window's end


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The customer's message after a staff reply: stored on the answer and forwarded to the staff chats."""

    answer_id: int
    customer_id: int
    text: str


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
    | AlertStaff
    | StaffReply
    | FollowUp
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


async def apply(
    unit: Unit,
    decision: Decision,
    now: datetime,
    alert_chats: Sequence[ChatRef] = (),
    staff_voice: Voice = ENGLISH,
) -> Applied:
    """Write the effects in order, then queue the replies (in the caller's transaction).

    `alert_chats`: the staff chats problem answers and follow-ups are posted to.
    """
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
                    salt=effect.salt,
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
            case AlertStaff():
                recorded = result.answer_ids[-1] if result.answer_ids else None
                await _alert(unit, effect, effect.answer_id or recorded, alert_chats, now, staff_voice)
            case StaffReply():
                await _staff_reply(unit, effect, now)
            case FollowUp():
                await _follow_up(unit, effect, alert_chats, now, staff_voice)
    for reply in decision.replies:
        await unit.outbox.queue(to_row(reply, DeliveryKind.REPLY, customer_id=customer_id), now)
        result.replies += 1
    return result


async def _post_to_staff(
    unit: Unit, answer_id: int, text: str, chats: Sequence[ChatRef], now: datetime, *, answerable: bool = True
) -> None:
    """Queue `text` to every staff chat, each post linked to the answer (a platform reply to it answers)."""
    for chat in chats:
        post = Outbound(chat=chat, text=text, answer_id=answer_id if answerable else None)
        delivery_id = await unit.outbox.queue(to_row(post, DeliveryKind.ALERT), now)
        await unit.followups.link_alert(answer_id, delivery_id)


async def _alert(
    unit: Unit, effect: AlertStaff, answer_id: int | None, chats: Sequence[ChatRef], now: datetime, say: Voice
) -> None:
    # By id: an anonymous answer cannot be found from its customer.
    if answer_id is not None:
        answer = await unit.followups.answer(answer_id)
    else:
        answer = await unit.followups.answer_of(effect.run_id, effect.customer_id)
    if answer is None or answer.rating is None:
        return
    if answer.platform == ANONYMOUS:  # nobody is named, and nobody can be answered
        quote = sanitise_quote(answer.text)
        text = say(
            texts.STAFF_ALERT_ANONYMOUS,
            rating=answer.rating,
            scale=answer.scale,
            poll=answer.poll_id,
            answer_id=answer.answer_id,
            quote=quote,
        )
        await _post_to_staff(unit, answer.answer_id, text, chats, now, answerable=False)
        return
    text = say(
        texts.STAFF_ALERT,
        who=sanitise_quote(answer.display_name, 64) or say(texts.A_CUSTOMER),
        rating=answer.rating,
        scale=answer.scale,
        poll=answer.poll_id,
        answer_id=answer.answer_id,
        quote=sanitise_quote(answer.text),
    )
    await _post_to_staff(unit, answer.answer_id, text, chats, now)
    log.info("problem alert queued answer=%s chats=%d", answer.answer_id, len(chats))


async def _staff_reply(unit: Unit, effect: StaffReply, now: datetime) -> None:
    await unit.followups.add(
        answer_id=effect.answer_id,
        customer_id=effect.customer_id,
        author=STAFF,
        text=effect.text,
        staff_user=effect.staff_user,
        now=now,
    )
    await unit.followups.open_window(effect.customer_id, effect.answer_id, effect.until)
    message = Outbound(chat=effect.to, text=effect.message)
    await unit.outbox.queue(to_row(message, DeliveryKind.REPLY, customer_id=effect.customer_id), now)
    log.info("staff reply queued answer=%s by=%s", effect.answer_id, effect.staff_user)


async def _follow_up(unit: Unit, effect: FollowUp, chats: Sequence[ChatRef], now: datetime, say: Voice) -> None:
    await unit.followups.add(
        answer_id=effect.answer_id, customer_id=effect.customer_id, author=CUSTOMER, text=effect.text, now=now
    )
    await unit.followups.close_window(effect.customer_id)
    answer = await unit.followups.answer(effect.answer_id)
    if answer is None:
        return
    text = say(
        texts.FOLLOWUP_FORWARD,
        who=sanitise_quote(answer.display_name, 64) or say(texts.THE_CUSTOMER),
        answer_id=answer.answer_id,
        quote=sanitise_quote(effect.text, FORWARD_LENGTH),
    )
    await _post_to_staff(unit, answer.answer_id, text, chats, now)
