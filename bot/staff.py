"""Staff and manager commands. The engine has already checked the caller's role and place."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from babel.numbers import format_percent

from bot import texts
from bot.commands import TAG, CommandContext, CommandSpec, Option, Place, PrepareContext
from bot.effects import Decision
from bot.roles import Role
from bot.runs import start_run
from bot.runtime.schedule import next_fire_time
from bot.types import Image
from storage.runs import MAX_ID

log = logging.getLogger("feedbot.staff")

PERIODS = ("day", "week", "month")


def _poll_ids(ctx: CommandContext) -> str:
    return ", ".join(p.id for p in ctx.settings.polls) or ctx.say(texts.NO_POLL_IDS)


async def poll(ctx: CommandContext) -> Decision:
    args, say = ctx.command.args, ctx.say
    usage = say(texts.POLL_USAGE, polls=_poll_ids(ctx))
    if not args or len(args) > 2:
        return Decision.reply(ctx.reply(usage))
    poll_id = args[0]
    tag = args[1] if len(args) > 1 else None
    if ctx.settings.poll(poll_id) is None:
        return Decision.reply(ctx.reply(say(texts.UNKNOWN_POLL, poll=repr(poll_id[:64]), usage=usage)))
    if tag is not None and not TAG.match(tag):
        return Decision.reply(ctx.reply(say(texts.INVALID_TAG, tag=repr(tag[:64]), usage=usage)))
    who = f"{ctx.inbound.chat.platform}:{ctx.inbound.sender_id}"
    started = await start_run(ctx.unit, ctx.settings, poll_id, triggered_by=who, tag=tag, now=ctx.now)
    assert started is not None  # manual runs have no scheduled time, so they are never duplicates
    log.info("staff started poll=%s run=%s by=%s", poll_id, started.run_id, who)
    values = {"poll": repr(poll_id), "run": started.run_id}
    if tag:
        text = say.plural(texts.POLL_STARTED_TAGGED, started.queued, tag=repr(tag), **values)
    else:
        text = say.plural(texts.POLL_STARTED, started.queued, **values)
    return Decision.reply(ctx.reply(text))


async def polls(ctx: CommandContext) -> Decision:
    settings, say = ctx.settings, ctx.say
    if not settings.polls:
        return Decision.reply(ctx.reply(say(texts.NO_POLLS)))
    lines = [say(texts.POLLS_HEADING)]
    for p in settings.polls:
        tz = settings.poll_timezone(p)
        if p.schedule:
            nxt = next_fire_time(p.schedule, tz, ctx.now)
            when = (
                f"{say.pattern(nxt, 'EEE yyyy-MM-dd HH:mm', tz)} {nxt.astimezone(tz):%Z}"
                if nxt
                else say(texts.POLL_NEVER)
            )
            lines.append(say(texts.POLL_NEXT, poll=p.id, when=when, zone=tz.key, schedule=p.schedule))
        else:
            lines.append(say(texts.POLL_ON_DEMAND, poll=p.id))
    return Decision.reply(ctx.reply("\n".join(lines)))


async def status(ctx: CommandContext) -> Decision:
    args, say = ctx.command.args, ctx.say
    if len(args) > 1 or (args and not args[0].isdigit()):
        return Decision.reply(ctx.reply(say(texts.STATUS_USAGE)))
    if args:
        # Validated here, so a number no id column can hold never reaches the database.
        wanted = int(args[0]) if len(args[0]) <= 10 else MAX_ID + 1
        run = await ctx.unit.runs.get(wanted)
    else:
        run = await ctx.unit.runs.latest()
    if run is None:
        return Decision.reply(ctx.reply(say(texts.NO_SUCH_RUN if args else texts.NO_RUN_YET)))
    c = await ctx.unit.runs.counts(run.id)
    rate = format_percent(c.answered / c.sent, locale=say.locale) if c.sent else say(texts.NOT_AVAILABLE)
    state = say(texts.STATUS_CLOSED if ctx.now >= run.closes_at else texts.STATUS_OPEN)
    n = say.number
    lines = [
        say(
            texts.STATUS_RUN,
            run=run.id,
            poll=run.poll_id,
            tag=say(texts.STATUS_TAG, tag=run.tag) if run.tag else "",
            started=say.pattern(run.created_at, "yyyy-MM-dd HH:mm", UTC),
            by=run.triggered_by,
            state=state,
            closes=say.pattern(run.closes_at, "yyyy-MM-dd HH:mm", UTC),
        ),
        say(texts.STATUS_COUNTS, asked=n(c.asked), sent=n(c.sent), pending=n(c.pending), failed=n(c.failed)),
        say(
            texts.STATUS_ANSWERS,
            answered=n(c.answered),
            rate=rate,
            rated=n(c.rated),
            reminded=n(c.reminded),
            late=n(c.late),
        )
        + (say(texts.STATUS_PAUSED, paused=n(c.paused)) if c.paused else ""),
    ]
    return Decision.reply(ctx.reply("\n".join(lines)))


def _digest_request(ctx: PrepareContext | CommandContext) -> tuple[str, bool] | None:
    """`/digest [day|week|month]`: the period so far; `/digest last [day|week|month]`: the last complete one.

    Returns (period, current), or None for a malformed request.
    """
    args = [arg.lower() for arg in ctx.command.args]
    last = bool(args) and args[0] == "last"
    if last:
        args = args[1:]
    period = args[0] if args else ctx.settings.digest.period
    if len(args) > 1 or period not in PERIODS:
        return None
    return period, not last


async def prepare_digest(ctx: PrepareContext) -> Any:
    """Rendered before the transaction: a digest reads many rows and draws a chart."""
    request = _digest_request(ctx)
    if request is None or ctx.reporting is None:
        return None
    period, current = request
    return await ctx.reporting.digest(period, ctx.now, current, ctx.inbound.language)


async def digest(ctx: CommandContext) -> Decision:
    request = _digest_request(ctx)
    if request is None:
        return Decision.reply(ctx.reply(ctx.say(texts.DIGEST_USAGE)))
    if ctx.prepared is None:
        return Decision.reply(ctx.reply(ctx.say(texts.NO_DIGESTS)))
    text, png = ctx.prepared
    image = Image(filename=f"digest-{request[0]}.png", data=png) if png else None
    return Decision.reply(ctx.reply(text, image=image))


async def prepare_goals(ctx: PrepareContext) -> Any:
    if ctx.reporting is None or not ctx.settings.goals:
        return None
    return await ctx.reporting.goals(ctx.now, ctx.inbound.language)


async def goals(ctx: CommandContext) -> Decision:
    if ctx.prepared is None:
        return Decision.reply(ctx.reply(ctx.say(texts.NO_GOALS)))
    return Decision.reply(ctx.reply(str(ctx.prepared)))


STAFF_SPECS = (
    CommandSpec(
        "poll",
        Role.STAFF,
        Place.TEAM,
        help=texts.HELP_POLL,
        menu=texts.MENU_POLL,
        handler=poll,
        usage="POLL_ID [tag]",
        options=(
            Option("poll_id", texts.OPTION_POLL_ID, required=True, suggest_polls=True),
            Option("tag", texts.OPTION_POLL_TAG),
        ),
    ),
    CommandSpec(
        "polls",
        Role.STAFF,
        Place.TEAM,
        help=texts.HELP_POLLS,
        menu=texts.MENU_POLLS,
        handler=polls,
    ),
    CommandSpec(
        "status",
        Role.STAFF,
        Place.TEAM,
        help=texts.HELP_STATUS,
        menu=texts.MENU_STATUS,
        handler=status,
        usage="[RUN]",
        options=(Option("run", texts.OPTION_STATUS_RUN, kind="integer", minimum=1),),
    ),
    CommandSpec(
        "digest",
        Role.MANAGER,
        Place.TEAM,
        help=texts.HELP_DIGEST,
        menu=texts.MENU_DIGEST,
        handler=digest,
        usage="[last] [day|week|month]",
        prepare=prepare_digest,
        options=(
            Option("last", texts.OPTION_DIGEST_LAST, choices=("last",)),
            Option("period", texts.OPTION_DIGEST_PERIOD, choices=PERIODS),
        ),
    ),
    CommandSpec(
        "goals",
        Role.MANAGER,
        Place.TEAM,
        help=texts.HELP_GOALS,
        menu=texts.MENU_GOALS,
        handler=goals,
        prepare=prepare_goals,
    ),
)
