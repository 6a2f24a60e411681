"""The customer conversation as a pure function: `decide(snapshot, inbound, now, say) -> Decision`.

No I/O here: the engine reads the snapshot and applies the decision in the message's own
transaction. Commands are not handled here (bot.commands routes them). `say` is the customer's
language (bot.i18n.Voice), chosen by the engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot import texts
from bot.choices import AnswerChoice, ForgetChoice, RateChoice, parse_choice
from bot.effects import (
    AddWords,
    CancelForget,
    Decision,
    EditAnswer,
    Erase,
    RateAnswer,
    RecordAnswer,
    SetReachable,
)
from bot.i18n import Voice
from bot.types import Choice, Inbound, InboundKind, Outbound, rating_choice
from storage.conversation import ConversationSnapshot
from storage.customers import CustomerRecord
from storage.runs import RunRecord

FORGET_CONFIRM_WINDOW = timedelta(minutes=10)
YES_NO = {"yes": True, "y": True, "no": False, "n": False}


def yes_or_no(words: str, say: Voice) -> bool | None:
    """A typed yes or no, in English or the customer's language; None for anything else."""
    word = words.strip().lower()
    if word in YES_NO:
        return YES_NO[word]
    if word in say(texts.YES_WORDS).lower().split():
        return True
    if word in say(texts.NO_WORDS).lower().split():
        return False
    return None


def scale_bounds(run: RunRecord) -> tuple[int, int]:
    return (0, 10) if run.scale == 10 else (1, 5)


def rating_choices(run: RunRecord) -> tuple[Choice, ...]:
    low, high = scale_bounds(run)
    return tuple(Choice(label=str(n), value=rating_choice(run.id, n)) for n in range(low, high + 1))


def source_id(inbound: Inbound) -> str:
    """Where an answer came from: a redelivered message is never stored twice (unique key)."""
    return f"{inbound.chat.platform}:{inbound.chat.chat_id}:{inbound.message_id}"[:200]


def reply(inbound: Inbound, text: str, choices: tuple[Choice, ...] = ()) -> Outbound:
    return Outbound(
        chat=inbound.chat,
        text=text,
        choices=choices,
        reply_to=inbound.message_id,
        reply_handle=inbound.reply_handle,
    )


def decide(snapshot: ConversationSnapshot, inbound: Inbound, now: datetime, say: Voice) -> Decision:
    """What a customer's non-command message changes and what they are told."""
    kind = inbound.kind
    if kind is InboundKind.BLOCKED:
        return Decision((SetReachable(inbound.chat.platform, inbound.sender_id, False, "user blocked the bot"),))
    if kind is InboundKind.UNBLOCKED:
        return Decision((SetReachable(inbound.chat.platform, inbound.sender_id, True),))
    if not inbound.is_private:
        return Decision()  # ordinary chatter in a group or channel is none of our business
    customer = snapshot.customer
    if kind is InboundKind.EDIT:
        text = inbound.text
        if not text.strip() or len(text) > texts.MAX_ANSWER_CHARS:
            return Decision()  # an edit that would make the answer invalid keeps the stored version
        return Decision((EditAnswer(source_id(inbound), text),))
    if inbound.forwarded and kind in (InboundKind.TEXT, InboundKind.MEDIA):
        return Decision.reply(reply(inbound, say(texts.OWN_WORDS)), customer_id=_id(customer))
    if kind is InboundKind.MEDIA:
        if not inbound.text.strip():
            return Decision.reply(reply(inbound, say(texts.ASK_IN_WORDS)), customer_id=_id(customer))
        kind = InboundKind.TEXT  # a photo with a caption: the caption is the answer
    if customer is None:
        return Decision.reply(reply(inbound, say(texts.NOT_SUBSCRIBED)))
    if kind is InboundKind.CHOICE:
        return _choice(snapshot, customer, inbound, now, say)
    return _text(snapshot, customer, inbound, now, say)


def _id(customer: CustomerRecord | None) -> int | None:
    return None if customer is None else customer.id


def _text(
    snapshot: ConversationSnapshot, customer: CustomerRecord, inbound: Inbound, now: datetime, say: Voice
) -> Decision:
    text = inbound.text
    words = text.strip()
    if snapshot.source_answered:
        return Decision()  # stored already (handled before under another key)
    if not words:
        return Decision.reply(reply(inbound, say(texts.ASK_IN_WORDS)), customer_id=customer.id)
    target = parse_choice(inbound.choice)
    if isinstance(target, AnswerChoice):
        return _targeted_answer(snapshot, customer, inbound, target, say)
    # "yes" confirms a pending /forget only when no question waits for this customer's answer.
    answer = yes_or_no(words, say)
    if customer.forget_requested_at is not None and answer is not None and snapshot.open_run is None:
        return _forget_answer(customer, inbound, answer, now, say)
    awaiting = snapshot.awaiting_rating
    if awaiting is not None:
        low, high = scale_bounds(awaiting.run)
        if words.isdigit() and len(words) <= 3 and low <= int(words) <= high:
            return Decision(
                (RateAnswer(customer.id, awaiting.run.id, int(words)),),
                (reply(inbound, say(texts.RATING_THANKS)),),
                customer.id,
            )
    run = snapshot.open_run
    if run is not None and run.asks_rating and _score(words, run) is not None:
        return _rating_first(customer, run, inbound, _score(words, run), say)
    if run is None and snapshot.wordless_answer_id is not None:
        if len(text) > texts.MAX_ANSWER_CHARS:
            too_long = say(texts.TOO_LONG, length=say.number(len(text)), limit=say.number(texts.MAX_ANSWER_CHARS))
            return Decision.reply(reply(inbound, too_long), customer_id=customer.id)
        thanks = reply(inbound, say(texts.THANKS))
        return Decision((AddWords(snapshot.wordless_answer_id, text),), (thanks,), customer.id)
    if run is None:
        if awaiting is not None:
            low, high = scale_bounds(awaiting.run)
            again = reply(inbound, say(texts.RATING_AGAIN, low=low, high=high), rating_choices(awaiting.run))
            return Decision.reply(again, customer_id=customer.id)
        return Decision.reply(reply(inbound, say(texts.NO_OPEN_QUESTION)), customer_id=customer.id)
    return _record(customer, run, inbound, None, say)


def _score(words: str, run: RunRecord) -> int | None:
    """A bare number on the run's scale, or None."""
    low, high = scale_bounds(run)
    if words.isdigit() and len(words) <= 3 and low <= int(words) <= high:
        return int(words)
    return None


def _rating_first(
    customer: CustomerRecord, run: RunRecord, inbound: Inbound, score: int | None, say: Voice
) -> Decision:
    """A bare number as the first reply to a rating poll: it is the rating; the words are asked for."""
    effect = RecordAnswer(
        run_id=run.id,
        customer_id=customer.id,
        text="",
        source_message_id=source_id(inbound),
        answered_at=inbound.received_at,
        late=inbound.received_at > run.closes_at,
        await_rating=False,
        rating=score,
    )
    return Decision((effect,), (reply(inbound, say(texts.ASK_WORDS, rating=score)),), customer.id)


def _targeted_answer(
    snapshot: ConversationSnapshot, customer: CustomerRecord, inbound: Inbound, target: AnswerChoice, say: Voice
) -> Decision:
    """A text that says which run it answers (Discord's form), optionally with its rating."""
    run = snapshot.targeted_run
    if run is None or run.id != target.run_id:
        return Decision.reply(reply(inbound, say(texts.NO_OPEN_QUESTION)), customer_id=customer.id)
    rating = target.rating
    if rating is not None:
        low, high = scale_bounds(run)
        if not (run.asks_rating and low <= rating <= high):
            rating = None
    return _record(customer, run, inbound, rating, say)


def _record(customer: CustomerRecord, run: RunRecord, inbound: Inbound, rating: int | None, say: Voice) -> Decision:
    text = inbound.text
    if len(text) > texts.MAX_ANSWER_CHARS:
        too_long = say(texts.TOO_LONG, length=say.number(len(text)), limit=say.number(texts.MAX_ANSWER_CHARS))
        return Decision.reply(reply(inbound, too_long), customer_id=customer.id)
    late = inbound.received_at > run.closes_at
    wants_rating = run.asks_rating and rating is None
    effect = RecordAnswer(
        run_id=run.id,
        customer_id=customer.id,
        text=text,
        source_message_id=source_id(inbound),
        answered_at=inbound.received_at,
        late=late,
        await_rating=wants_rating,
        rating=rating,
    )
    if wants_rating:
        low, high = scale_bounds(run)
        answer = reply(inbound, say(texts.ASK_RATING, low=low, high=high), rating_choices(run))
    else:
        answer = reply(inbound, say(texts.THANKS_LATE if late else texts.THANKS))
    return Decision((effect,), (answer,), customer.id)


def _choice(
    snapshot: ConversationSnapshot, customer: CustomerRecord, inbound: Inbound, now: datetime, say: Voice
) -> Decision:
    value = parse_choice(inbound.choice)
    if isinstance(value, ForgetChoice):
        return _forget_answer(customer, inbound, value.confirmed, now, say)
    if isinstance(value, RateChoice):
        awaiting = snapshot.awaiting_rating
        if awaiting is None or awaiting.run.id != value.run_id:
            return Decision.reply(reply(inbound, say(texts.RATING_ALREADY)), customer_id=customer.id)
        low, high = scale_bounds(awaiting.run)
        if not low <= value.score <= high:
            return Decision()
        return Decision(
            (RateAnswer(customer.id, value.run_id, value.score),),
            (reply(inbound, say(texts.RATING_THANKS)),),
            customer.id,
        )
    return Decision()


def _forget_answer(customer: CustomerRecord, inbound: Inbound, confirmed: bool, now: datetime, say: Voice) -> Decision:
    requested = customer.forget_requested_at
    if requested is None:
        return (
            Decision.reply(reply(inbound, say(texts.FORGET_EXPIRED)), customer_id=customer.id)
            if confirmed
            else Decision()
        )
    if not confirmed:
        return Decision((CancelForget(customer.id),), (reply(inbound, say(texts.FORGET_CANCELLED)),), customer.id)
    if now - requested > FORGET_CONFIRM_WINDOW:
        return Decision((CancelForget(customer.id),), (reply(inbound, say(texts.FORGET_EXPIRED)),), customer.id)
    erase = Erase(customer.id, inbound.chat.platform, inbound.chat.chat_id)
    return Decision((erase,), (reply(inbound, say(texts.FORGET_DONE)),))
