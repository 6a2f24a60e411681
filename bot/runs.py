"""Starting a poll run: the run row and its questions in the outbox, in the caller's transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from storage.store import Unit

log = logging.getLogger("feedbot.runs")


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: int
    poll_id: str
    queued: int


async def start_run(
    unit: Unit,
    settings: Settings,
    poll_id: str,
    *,
    triggered_by: str,
    now: datetime,
    tag: str | None = None,
    scheduled_for: datetime | None = None,
) -> RunStarted | None:
    """Create a run and queue one question per subscribed, reachable customer, in one transaction.

    Returns None when a scheduled run for this poll and time exists already (another process or an
    earlier fire made it). A /poll update handled twice cannot make two runs either: its dedupe claim
    is in the same transaction.
    """
    poll = settings.poll(poll_id)
    if poll is None:
        raise KeyError(poll_id)
    base = scheduled_for or now
    run_id = await unit.runs.create(
        poll_id=poll.id,
        question=poll.question_in(settings.engine.language, settings.engine.language),
        translations=poll.translations(),
        asks_rating=poll.rating,
        scale=poll.scale,
        tag=tag or poll.tag,
        triggered_by=triggered_by,
        now=now,
        closes_at=base + poll.close_after,
        remind_at=base + poll.remind_after if poll.remind_after else None,
        scheduled_for=scheduled_for,
    )
    if run_id is None:
        return None
    queued = await unit.outbox.fan_out(run_id, tag or poll.tag, now)
    await unit.runs.mark_fanned_out(run_id, paused=await unit.outbox.count_paused(tag or poll.tag, now))
    log.info("run started poll=%s run=%s queued=%d by=%s", poll.id, run_id, queued, triggered_by)
    return RunStarted(run_id=run_id, poll_id=poll.id, queued=queued)
