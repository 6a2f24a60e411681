"""Customer commands: subscribe, stop, see or erase one's data, privacy, help."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot import texts
from bot.commands import TAG, CommandContext, CommandSpec, Option, Place
from bot.effects import Decision, Pause, RequestForget, Subscribe, Unsubscribe
from bot.roles import Role
from bot.types import FORGET_NO, FORGET_YES, Choice
from storage.customers import CustomerData
from storage.followups import STAFF, FollowupMessage


async def start(ctx: CommandContext) -> Decision:
    inbound = ctx.inbound
    tag = ctx.command.args[0] if ctx.command.args else None
    notes: list[str] = []
    if tag is not None and not TAG.match(tag):
        tag = None
        notes.append(texts.BAD_TAG)
    subscribe = Subscribe(
        platform=inbound.chat.platform,
        user_id=inbound.sender_id,
        chat_id=inbound.chat.chat_id,
        display_name=inbound.sender_name,
        language=inbound.language,
        tag=tag,
    )
    scales = frozenset(p.scale for p in ctx.settings.polls if p.rating)
    welcome = texts.welcome(inbound.sender_name.strip()[:64], scales)
    customer = ctx.customer
    if customer is not None and customer.paused_until is not None and customer.paused_until > ctx.now:
        welcome = texts.RESUMED  # subscribing again ends a pause early
    return Decision((subscribe,), (ctx.reply("\n".join([welcome, *notes])),))


PAUSE_WEEKS = range(1, 13)
DEFAULT_PAUSE_WEEKS = 4


async def pause(ctx: CommandContext) -> Decision:
    """`/pause [weeks]`: no questions for 1-12 weeks (default 4); /start resumes early."""
    if ctx.customer is None or not ctx.customer.subscribed:
        return Decision.reply(ctx.reply(texts.NOT_SUBSCRIBED))
    args = ctx.command.args
    weeks = DEFAULT_PAUSE_WEEKS
    if args:
        if len(args) > 1 or not args[0].isdigit() or len(args[0]) > 2 or int(args[0]) not in PAUSE_WEEKS:
            return Decision.reply(ctx.reply(texts.PAUSE_USAGE), customer_id=ctx.customer.id)
        weeks = int(args[0])
    until = ctx.now + timedelta(weeks=weeks)
    return Decision((Pause(ctx.customer.id, until),), (ctx.reply(texts.PAUSED.format(until=until)),), ctx.customer.id)


async def stop(ctx: CommandContext) -> Decision:
    if ctx.customer is None:
        return Decision.reply(ctx.reply(texts.NOT_SUBSCRIBED))
    return Decision((Unsubscribe(ctx.customer.id),), (ctx.reply(texts.STOPPED),), ctx.customer.id)


async def mydata(ctx: CommandContext) -> Decision:
    if ctx.customer is None:
        return Decision.reply(ctx.reply(texts.NO_DATA))
    data = await ctx.unit.customers.data(ctx.customer.id)
    if data is None:
        return Decision.reply(ctx.reply(texts.NO_DATA))
    conversation = await ctx.unit.followups.of_customer(ctx.customer.id)
    body = json.dumps(mydata_json(data, conversation), ensure_ascii=False, indent=1)
    return Decision.reply(ctx.reply(f"{texts.MYDATA_INTRO}\n{body}"), customer_id=ctx.customer.id)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def mydata_json(data: CustomerData, conversation: Sequence[FollowupMessage] = ()) -> dict[str, Any]:
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
            "next_message_follows_up_answer": c.followup_answer_id,
            "follow_up_until": _iso(c.followup_until),
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
        "staff_conversation": [
            {
                "answer": m.answer_id,
                "from": "staff" if m.author == STAFF else "you",
                "text": m.text,
                "at": _iso(m.created_at),
            }
            for m in conversation
        ],
    }


async def forget(ctx: CommandContext) -> Decision:
    if ctx.customer is None:
        return Decision.reply(ctx.reply(texts.NO_DATA))
    buttons = (Choice("Yes, erase everything", FORGET_YES), Choice("No, keep it", FORGET_NO))
    return Decision((RequestForget(ctx.customer.id),), (ctx.reply(texts.FORGET_CONFIRM, buttons),), ctx.customer.id)


async def privacy(ctx: CommandContext) -> Decision:
    return Decision.reply(ctx.reply(texts.privacy(ctx.settings.engine.privacy_url)))


async def help_(ctx: CommandContext) -> Decision:
    return Decision.reply(ctx.reply(ctx.registry.help_text(ctx.role)))


CUSTOMER_SPECS = (
    CommandSpec(
        "start",
        Role.CUSTOMER,
        Place.PRIVATE,
        help="subscribe to the occasional question",
        menu="Subscribe to the occasional feedback question",
        handler=start,
        purpose="subscribe",
        options=(Option("tag", "A start code you were given (optional)"),),
    ),
    CommandSpec(
        "stop",
        Role.CUSTOMER,
        Place.PRIVATE,
        help="stop receiving questions",
        menu="Stop receiving questions",
        handler=stop,
        purpose="unsubscribe",
    ),
    CommandSpec(
        "pause",
        Role.CUSTOMER,
        Place.PRIVATE,
        help="no questions for a few weeks",
        menu="No questions for a few weeks: /pause [weeks]",
        handler=pause,
        usage="[weeks]",
        purpose="pause your questions",
        options=(Option("weeks", "For how many weeks (1-12; 4 when left out)", kind="integer", minimum=1, maximum=12),),
    ),
    CommandSpec(
        "mydata",
        Role.CUSTOMER,
        Place.PRIVATE,
        help="see everything stored about you",
        menu="See everything stored about you",
        handler=mydata,
        purpose="see your data",
    ),
    CommandSpec(
        "forget",
        Role.CUSTOMER,
        Place.PRIVATE,
        help="erase everything stored about you",
        menu="Erase everything stored about you",
        handler=forget,
        purpose="erase your data",
    ),
    CommandSpec(
        "privacy",
        Role.CUSTOMER,
        Place.ANYWHERE,
        help="what is stored and why",
        menu="What is stored about you and why",
        handler=privacy,
    ),
    CommandSpec("help", Role.CUSTOMER, Place.ANYWHERE, help="this message", menu="What this bot does", handler=help_),
)
