"""Customer commands: subscribe, stop, see or erase one's data, privacy, help."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot import texts
from bot.commands import TAG, CommandContext, CommandSpec, Option, Place
from bot.effects import Decision, Pause, RequestForget, Subscribe, Unsubscribe
from bot.i18n import Voice
from bot.roles import Role
from bot.types import FORGET_NO, FORGET_YES, Choice
from storage.customers import CustomerData

if TYPE_CHECKING:
    from bot.config import Settings


async def start(ctx: CommandContext) -> Decision:
    inbound = ctx.inbound
    tag = ctx.command.args[0] if ctx.command.args else None
    notes: list[str] = []
    if tag is not None and not TAG.match(tag):
        tag = None
        notes.append(ctx.say(texts.BAD_TAG))
    subscribe = Subscribe(
        platform=inbound.chat.platform,
        user_id=inbound.sender_id,
        chat_id=inbound.chat.chat_id,
        display_name=inbound.sender_name,
        language=inbound.language,
        tag=tag,
    )
    welcome = welcome_text(ctx.settings, ctx.say, inbound.sender_name.strip()[:64], tag)
    customer = ctx.customer
    if customer is not None and customer.paused_until is not None and customer.paused_until > ctx.now:
        welcome = ctx.say(texts.RESUMED)  # subscribing again ends a pause early
    return Decision((subscribe,), (ctx.reply("\n".join([welcome, *notes])),))


def welcome_text(settings: Settings, say: Voice, name: str, tag: str | None = None) -> str:
    """The welcome, built from the polls this customer will be asked (those without a tag or with
    theirs): the first one's question in the customer's language as the example, and the rating
    scale those polls really use."""
    polls = [p for p in settings.polls if p.tag in (None, tag)] or list(settings.polls)
    scales = frozenset(p.scale for p in polls if p.rating)
    if scales == {5}:
        rating = say(texts.RATING_HINT, low=1, high=5)
    elif scales == {10}:
        rating = say(texts.RATING_HINT, low=0, high=10)
    else:
        rating = say(texts.RATING_HINT_ANY) if scales else ""
    greeting = say(texts.GREETING, name=name) if name else say(texts.GREETING_NO_NAME)
    if polls:
        question = polls[0].question_in(say.language, settings.engine.language)
    else:
        question = say(texts.SAMPLE_QUESTION)
    return say(texts.WELCOME, greeting=greeting, question=question.strip(), rating=rating)


PAUSE_WEEKS = range(1, 13)
DEFAULT_PAUSE_WEEKS = 4


async def pause(ctx: CommandContext) -> Decision:
    """`/pause [weeks]`: no questions for 1-12 weeks (default 4); /start resumes early."""
    if ctx.customer is None or not ctx.customer.subscribed:
        return Decision.reply(ctx.reply(ctx.say(texts.NOT_SUBSCRIBED)))
    args = ctx.command.args
    weeks = DEFAULT_PAUSE_WEEKS
    if args:
        if len(args) > 1 or not args[0].isdigit() or len(args[0]) > 2 or int(args[0]) not in PAUSE_WEEKS:
            return Decision.reply(ctx.reply(ctx.say(texts.PAUSE_USAGE)), customer_id=ctx.customer.id)
        weeks = int(args[0])
    until = ctx.now + timedelta(weeks=weeks)
    day = until.astimezone(ZoneInfo(ctx.settings.engine.timezone)).date()
    paused = ctx.reply(ctx.say(texts.PAUSED, until=ctx.say.date(day, "full")))
    return Decision((Pause(ctx.customer.id, until),), (paused,), ctx.customer.id)


async def stop(ctx: CommandContext) -> Decision:
    if ctx.customer is None:
        return Decision.reply(ctx.reply(ctx.say(texts.NOT_SUBSCRIBED)))
    return Decision((Unsubscribe(ctx.customer.id),), (ctx.reply(ctx.say(texts.STOPPED)),), ctx.customer.id)


async def mydata(ctx: CommandContext) -> Decision:
    if ctx.customer is None:
        return Decision.reply(ctx.reply(ctx.say(texts.NO_DATA)))
    data = await ctx.unit.customers.data(ctx.customer.id)
    if data is None:
        return Decision.reply(ctx.reply(ctx.say(texts.NO_DATA)))
    body = json.dumps(mydata_json(data), ensure_ascii=False, indent=1)
    return Decision.reply(ctx.reply(f"{ctx.say(texts.MYDATA_INTRO)}\n{body}"), customer_id=ctx.customer.id)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def mydata_json(data: CustomerData) -> dict[str, Any]:
    """Every stored field about the customer, machine-readable (GDPR art. 15 and 20)."""
    c = data.customer
    deliveries = [
        {
            "poll": d.poll,
            "run": d.run,
            "kind": d.kind,
            "status": d.status,
            "attempts": d.attempts,
            "error": d.last_error,
            "message_id": d.platform_message_id,
            "queued_at": _iso(d.created_at),
            "sent_at": _iso(d.sent_at),
            "reminded_at": _iso(d.reminded_at),
        }
        for d in data.deliveries
    ]
    return {
        "customer": {
            "platform": c.platform,
            "user_id": c.platform_user_id,
            "chat_id": c.chat_id,
            "display_name": c.display_name,
            "language": c.language,
            "subscribed": c.subscribed,
            "reachable": c.reachable,
            "unreachable_reason": c.unreachable_reason,
            "waiting_for_rating_of_answer": c.awaiting_rating_answer_id,
            "erasure_requested_at": _iso(c.forget_requested_at),
            "paused_until": _iso(c.paused_until),
            "created_at": _iso(c.created_at),
            "updated_at": _iso(c.updated_at),
            "tags": list(data.tags),
        },
        "questions": [d for d in deliveries if d["kind"] in ("question", "reminder")],
        "messages": [d for d in deliveries if d["kind"] not in ("question", "reminder")],
        "answers": [
            {
                "poll": a.poll,
                "run": a.run,
                "answer": a.answer,
                "rating": a.rating,
                "late": a.late,
                "answered_at": _iso(a.answered_at),
                "edited_at": _iso(a.edited_at),
            }
            for a in data.answers
        ],
    }


async def forget(ctx: CommandContext) -> Decision:
    if ctx.customer is None:
        return Decision.reply(ctx.reply(ctx.say(texts.NO_DATA)))
    say = ctx.say
    buttons = (Choice(say(texts.FORGET_YES_BUTTON), FORGET_YES), Choice(say(texts.FORGET_NO_BUTTON), FORGET_NO))
    return Decision(
        (RequestForget(ctx.customer.id),), (ctx.reply(say(texts.FORGET_CONFIRM), buttons),), ctx.customer.id
    )


async def privacy(ctx: CommandContext) -> Decision:
    url = ctx.settings.engine.privacy_url
    policy = "\n" + ctx.say(texts.PRIVACY_POLICY, url=url) if url else ""
    return Decision.reply(ctx.reply(ctx.say(texts.PRIVACY) + policy))


async def help_(ctx: CommandContext) -> Decision:
    return Decision.reply(ctx.reply(ctx.registry.help_text(ctx.role, ctx.say)))


CUSTOMER_SPECS = (
    CommandSpec(
        "start",
        Role.CUSTOMER,
        Place.PRIVATE,
        help=texts.HELP_START,
        menu=texts.MENU_START,
        handler=start,
        purpose=texts.PURPOSE_START,
        options=(Option("tag", texts.OPTION_START_TAG),),
    ),
    CommandSpec(
        "stop",
        Role.CUSTOMER,
        Place.PRIVATE,
        help=texts.HELP_STOP,
        menu=texts.MENU_STOP,
        handler=stop,
        purpose=texts.PURPOSE_STOP,
    ),
    CommandSpec(
        "pause",
        Role.CUSTOMER,
        Place.PRIVATE,
        help=texts.HELP_PAUSE,
        menu=texts.MENU_PAUSE,
        handler=pause,
        usage="[weeks]",
        purpose=texts.PURPOSE_PAUSE,
        options=(Option("weeks", texts.OPTION_PAUSE_WEEKS, kind="integer", minimum=1, maximum=12),),
    ),
    CommandSpec(
        "mydata",
        Role.CUSTOMER,
        Place.PRIVATE,
        help=texts.HELP_MYDATA,
        menu=texts.MENU_MYDATA,
        handler=mydata,
        purpose=texts.PURPOSE_MYDATA,
    ),
    CommandSpec(
        "forget",
        Role.CUSTOMER,
        Place.PRIVATE,
        help=texts.HELP_FORGET,
        menu=texts.MENU_FORGET,
        handler=forget,
        purpose=texts.PURPOSE_FORGET,
    ),
    CommandSpec(
        "privacy",
        Role.CUSTOMER,
        Place.ANYWHERE,
        help=texts.HELP_PRIVACY,
        menu=texts.MENU_PRIVACY,
        handler=privacy,
    ),
    CommandSpec("help", Role.CUSTOMER, Place.ANYWHERE, help=texts.HELP_HELP, menu=texts.MENU_HELP, handler=help_),
)
