"""Staff and manager commands. The engine has already checked the caller's role."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from bot.commands import TAG, Command
from bot.engine import Engine
from bot.roles import Role
from bot.schedule import next_fire_time
from bot.types import Image, Inbound, Outbound

log = logging.getLogger("feedbot.staff")

PERIODS = ("day", "week", "month")


class DigestRenderer(Protocol):
    """(period, now, current) -> (text, chart png or None); the composition root provides it from bot.digest.

    `current`: the period so far (compared with the same stretch of the one before); otherwise the
    last complete period, as the scheduled digest shows.
    """

    def __call__(self, period: str, now: datetime, current: bool = False) -> Awaitable[tuple[str, bytes | None]]: ...


GoalsRenderer = Callable[[datetime], Awaitable[str]]


class StaffCommands:
    def __init__(
        self,
        engine: Engine,
        *,
        digest: DigestRenderer | None = None,
        goals: GoalsRenderer | None = None,
    ) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.digest = digest
        self.goals = goals

    def _reply(self, inbound: Inbound, text: str, image: Image | None = None) -> list[Outbound]:
        return [Outbound(chat=inbound.chat, text=text, reply_to=inbound.message_id, image=image)]

    async def handle(self, inbound: Inbound, command: Command, role: Role) -> list[Outbound]:
        handlers = {
            "poll": self._poll,
            "polls": self._polls,
            "status": self._status,
            "digest": self._digest,
            "goals": self._goals,
        }
        return await handlers[command.name](inbound, command)

    def _poll_ids(self) -> str:
        return ", ".join(p.id for p in self.settings.polls) or "(none configured)"

    async def _poll(self, inbound: Inbound, command: Command) -> list[Outbound]:
        usage = f"Usage: /poll POLL_ID [tag]. Polls: {self._poll_ids()}"
        if not command.args or len(command.args) > 2:
            return self._reply(inbound, usage)
        poll_id = command.args[0]
        tag = command.args[1] if len(command.args) > 1 else None
        if self.settings.poll(poll_id) is None:
            return self._reply(inbound, f"Unknown poll {poll_id!r}. {usage}")
        if tag is not None and not TAG.match(tag):
            return self._reply(inbound, f"Invalid tag {tag!r} (letters, digits, _ and - only). {usage}")
        who = f"{inbound.chat.platform}:{inbound.sender_id}"
        started = await self.engine.start_run(poll_id, triggered_by=who, tag=tag)
        assert started is not None  # manual runs have no scheduled time, so they are never duplicates
        log.info("staff started poll=%s run=%s by=%s", poll_id, started.run_id, who)
        target = f" tagged {tag!r}" if tag else ""
        return self._reply(
            inbound,
            f"Poll {poll_id!r} started (run {started.run_id}): {started.queued} customer"
            f"{'' if started.queued == 1 else 's'}{target} will be asked. /status {started.run_id} shows progress.",
        )

    async def _polls(self, inbound: Inbound, command: Command) -> list[Outbound]:
        if not self.settings.polls:
            return self._reply(inbound, "No polls are configured.")
        now = self.engine.clock.now()
        lines = ["Polls:"]
        for poll in self.settings.polls:
            tz = self.settings.poll_timezone(poll)
            if poll.schedule:
                nxt = next_fire_time(poll.schedule, tz, now)
                when = nxt.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z") if nxt else "never"
                lines.append(f"• {poll.id} – next {when} ({tz.key}; cron {poll.schedule})")
            else:
                lines.append(f"• {poll.id} – on demand only (/poll {poll.id})")
        return self._reply(inbound, "\n".join(lines))

    async def _status(self, inbound: Inbound, command: Command) -> list[Outbound]:
        if len(command.args) > 1 or (command.args and not command.args[0].isdigit()):
            return self._reply(inbound, "Usage: /status [RUN]")
        run = (
            await self.engine.repo.get_run(int(command.args[0]))
            if command.args
            else await self.engine.repo.latest_run()
        )
        if run is None or run.id is None:
            return self._reply(inbound, "No such run." if command.args else "No poll has run yet.")
        c = await self.engine.repo.run_counts(run.id)
        rate = f"{round(100 * c.answered / c.sent)}%" if c.sent else "n/a"
        state = "closed" if self.engine.clock.now() >= run.closes_at else "open"
        tag = f", tag {run.tag}" if run.tag else ""
        return self._reply(
            inbound,
            f"Run {run.id} – poll {run.poll_id}{tag}, started {run.created_at:%Y-%m-%d %H:%M} UTC "
            f"by {run.triggered_by}, {state} (closes {run.closes_at:%Y-%m-%d %H:%M} UTC)\n"
            f"Asked {c.asked} · delivered {c.sent} · waiting {c.pending} · failed {c.failed}\n"
            f"Answered {c.answered} ({rate}) · rated {c.rated} · reminded {c.reminded} · late {c.late}",
        )

    async def _digest(self, inbound: Inbound, command: Command) -> list[Outbound]:
        """`/digest [day|week|month]`: the period so far; `/digest last [day|week|month]`: the last complete one."""
        args = [arg.lower() for arg in command.args]
        last = bool(args) and args[0] == "last"
        if last:
            args = args[1:]
        period = args[0] if args else self.settings.digest.period
        if len(args) > 1 or period not in PERIODS:
            return self._reply(inbound, "Usage: /digest [last] [day|week|month]")
        if self.digest is None:
            return self._reply(inbound, "Digests are not available in this deployment.")
        text, png = await self.digest(period, self.engine.clock.now(), not last)
        image = Image(filename=f"digest-{period}.png", data=png) if png else None
        return self._reply(inbound, text, image)

    async def _goals(self, inbound: Inbound, command: Command) -> list[Outbound]:
        if self.goals is None or not self.settings.goals:
            return self._reply(inbound, "No goals are configured ([[goals]] in the config file).")
        return self._reply(inbound, await self.goals(self.engine.clock.now()))
