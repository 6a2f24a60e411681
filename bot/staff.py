"""Staff and manager commands. The engine has already checked the caller's role and place."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from bot import texts
from bot.commands import TAG, CommandContext, CommandSpec, Option, Place, PrepareContext
from bot.effects import Decision, StaffReply
from bot.quotes import sanitise_quote
from bot.roles import Role
from bot.runs import start_run
from bot.runtime.schedule import next_fire_time
from bot.types import ChatRef, Image
from storage.runs import ANONYMOUS, MAX_ID

log = logging.getLogger("feedbot.staff")

PERIODS = ("day", "week", "month")
FOLLOW_UP_WINDOW = timedelta(hours=48)
MAX_REPLY_CHARS = 3000  # leaves room for the introduction within one Telegram message


def _poll_ids(ctx: CommandContext) -> str:
    return ", ".join(p.id for p in ctx.settings.polls) or "(none configured)"


async def poll(ctx: CommandContext) -> Decision:
    args = ctx.command.args
    usage = f"Usage: /poll POLL_ID [tag]. Polls: {_poll_ids(ctx)}"
    if not args or len(args) > 2:
        return Decision.reply(ctx.reply(usage))
    poll_id = args[0]
    tag = args[1] if len(args) > 1 else None
    if ctx.settings.poll(poll_id) is None:
        return Decision.reply(ctx.reply(f"Unknown poll {poll_id[:64]!r}. {usage}"))
    if tag is not None and not TAG.match(tag):
        return Decision.reply(ctx.reply(f"Invalid tag {tag[:64]!r} (letters, digits, _ and - only). {usage}"))
    who = f"{ctx.inbound.chat.platform}:{ctx.inbound.sender_id}"
    started = await start_run(ctx.unit, ctx.settings, poll_id, triggered_by=who, tag=tag, now=ctx.now)
    assert started is not None  # manual runs have no scheduled time, so they are never duplicates
    log.info("staff started poll=%s run=%s by=%s", poll_id, started.run_id, who)
    target = f" tagged {tag!r}" if tag else ""
    plural = "" if started.queued == 1 else "s"
    return Decision.reply(
        ctx.reply(
            f"Poll {poll_id!r} started (run {started.run_id}): {started.queued} customer{plural}{target} "
            f"will be asked. /status {started.run_id} shows progress."
        )
    )


async def polls(ctx: CommandContext) -> Decision:
    settings = ctx.settings
    if not settings.polls:
        return Decision.reply(ctx.reply("No polls are configured."))
    lines = ["Polls:"]
    for p in settings.polls:
        tz = settings.poll_timezone(p)
        if p.schedule:
            nxt = next_fire_time(p.schedule, tz, ctx.now)
            when = nxt.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z") if nxt else "never"
            lines.append(f"• {p.id} – next {when} ({tz.key}; cron {p.schedule})")
        else:
            lines.append(f"• {p.id} – on demand only (/poll {p.id})")
    return Decision.reply(ctx.reply("\n".join(lines)))


async def status(ctx: CommandContext) -> Decision:
    args = ctx.command.args
    if len(args) > 1 or (args and not args[0].isdigit()):
        return Decision.reply(ctx.reply("Usage: /status [RUN]"))
    if args:
        # Validated here, so a number no id column can hold never reaches the database.
        wanted = int(args[0]) if len(args[0]) <= 10 else MAX_ID + 1
        run = await ctx.unit.runs.get(wanted)
    else:
        run = await ctx.unit.runs.latest()
    if run is None:
        return Decision.reply(ctx.reply("No such run." if args else "No poll has run yet."))
    c = await ctx.unit.runs.counts(run.id)
    rate = f"{round(100 * c.answered / c.sent)}%" if c.sent else "n/a"
    state = "closed" if ctx.now >= run.closes_at else "open"
    tag = f", tag {run.tag}" if run.tag else ""
    return Decision.reply(
        ctx.reply(
            f"Run {run.id} – poll {run.poll_id}{tag}, started {run.created_at:%Y-%m-%d %H:%M} UTC "
            f"by {run.triggered_by}, {state} (closes {run.closes_at:%Y-%m-%d %H:%M} UTC)\n"
            f"Asked {c.asked} · delivered {c.sent} · waiting {c.pending} · failed {c.failed}\n"
            f"Answered {c.answered} ({rate}) · rated {c.rated} · reminded {c.reminded} · late {c.late}"
            + (f" · paused {c.paused}" if c.paused else "")
            + (f" · skipped: asked recently {c.asked_recently}" if c.asked_recently else "")
        )
    )


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
    return await ctx.reporting.digest(period, ctx.now, current)


async def digest(ctx: CommandContext) -> Decision:
    request = _digest_request(ctx)
    if request is None:
        return Decision.reply(ctx.reply("Usage: /digest [last] [day|week|month]"))
    if ctx.prepared is None:
        return Decision.reply(ctx.reply("Digests are not available in this deployment."))
    text, png = ctx.prepared
    image = Image(filename=f"digest-{request[0]}.png", data=png) if png else None
    return Decision.reply(ctx.reply(text, image=image))


async def prepare_goals(ctx: PrepareContext) -> Any:
    if ctx.reporting is None or not ctx.settings.goals:
        return None
    return await ctx.reporting.goals(ctx.now)


async def goals(ctx: CommandContext) -> Decision:
    if ctx.prepared is None:
        return Decision.reply(ctx.reply("No goals are configured ([[goals]] in the config file)."))
    return Decision.reply(ctx.reply(str(ctx.prepared)))


async def reply(ctx: CommandContext) -> Decision:
    """`/reply ANSWER_ID text`: the customer who wrote the answer receives `text` from the business."""
    parts = re.split(r"\s+", ctx.command.raw.strip(), maxsplit=1)
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].strip():
        return Decision.reply(ctx.reply(texts.REPLY_USAGE))
    answer_id = int(parts[0]) if len(parts[0]) <= 10 else MAX_ID + 1
    text = parts[1].strip()
    if len(text) > MAX_REPLY_CHARS:
        return Decision.reply(ctx.reply(texts.REPLY_TOO_LONG.format(length=len(text), limit=MAX_REPLY_CHARS)))
    answer = await ctx.unit.followups.answer(answer_id) if answer_id <= MAX_ID else None
    if answer is None:
        return Decision.reply(ctx.reply(texts.REPLY_NO_ANSWER.format(answer_id=answer_id)))
    if answer.platform == ANONYMOUS:
        return Decision.reply(ctx.reply(texts.REPLY_ANONYMOUS.format(answer_id=answer_id)))
    business = ctx.settings.alerts.business
    effect = StaffReply(
        answer_id=answer.answer_id,
        customer_id=answer.customer_id,
        to=ChatRef(answer.platform, answer.chat_id, answer.user_id),
        message=texts.staff_reply(business, sanitise_quote(answer.text, 80), text),
        text=text,
        staff_user=f"{ctx.inbound.chat.platform}:{ctx.inbound.sender_id}",
        until=ctx.now + FOLLOW_UP_WINDOW,
    )
    sent = texts.reply_sent(sanitise_quote(answer.display_name, 64), answer.answer_id)
    return Decision((effect,), (ctx.reply(sent),))


STAFF_SPECS = (
    CommandSpec(
        "poll",
        Role.STAFF,
        Place.TEAM,
        help="ask now",
        menu="Ask a poll now: /poll POLL_ID [tag]",
        handler=poll,
        usage="POLL_ID [tag]",
        options=(
            Option("poll_id", "The poll to ask", required=True, suggest_polls=True),
            Option("tag", "Only customers with this tag (optional)"),
        ),
    ),
    CommandSpec(
        "polls",
        Role.STAFF,
        Place.TEAM,
        help="polls and next times",
        menu="Configured polls and their next times",
        handler=polls,
    ),
    CommandSpec(
        "status",
        Role.STAFF,
        Place.TEAM,
        help="progress",
        menu="Progress of a poll run: /status [RUN]",
        handler=status,
        usage="[RUN]",
        options=(Option("run", "Run number (the latest when left out)", kind="integer", minimum=1),),
    ),
    CommandSpec(
        "reply",
        Role.STAFF,
        Place.TEAM,
        help="answer a customer about their answer",
        menu="Answer a customer: /reply ANSWER_ID text",
        handler=reply,
        usage="ANSWER_ID text",
        options=(
            Option("answer_id", "The answer's number (in the alert)", kind="integer", required=True, minimum=1),
            Option("text", "Your message to the customer", required=True),
        ),
    ),
    CommandSpec(
        "digest",
        Role.MANAGER,
        Place.TEAM,
        help="results against goals",
        menu="Results against goals: /digest [last] [day|week|month]",
        handler=digest,
        usage="[last] [day|week|month]",
        prepare=prepare_digest,
        options=(
            Option("last", "The last complete period instead of this one so far", choices=("last",)),
            Option("period", "day, week or month (the configured period when left out)", choices=PERIODS),
        ),
    ),
    CommandSpec(
        "goals",
        Role.MANAGER,
        Place.TEAM,
        help="goal status now",
        menu="Goal status now",
        handler=goals,
        prepare=prepare_goals,
    ),
)
