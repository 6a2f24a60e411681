"""Starting a poll run: the run row and its questions in the outbox, in the caller's transaction."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import texts
from bot.config import PollSettings, Settings
from bot.i18n import languages
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

    Customers who paused their questions, or (with `[engine] min_days_between_questions`) were asked
    within that many days, are skipped and counted on the run.

    Returns None when a scheduled run for this poll and time exists already (another process or an
    earlier fire made it). A /poll update handled twice cannot make two runs either: its dedupe claim
    is in the same transaction.
    """
    poll = settings.poll(poll_id)
    if poll is None:
        raise KeyError(poll_id)
    base = scheduled_for or now
    question, translations = _questions(poll, settings)
    run_id = await unit.runs.create(
        poll_id=poll.id,
        question=question,
        translations=translations,
        asks_rating=poll.rating,
        scale=poll.scale,
        tag=tag or poll.tag,
        triggered_by=triggered_by,
        now=now,
        closes_at=base + poll.close_after,
        remind_at=base + poll.remind_after if poll.remind_after else None,
        scheduled_for=scheduled_for,
        salt=secrets.token_hex(16) if poll.anonymous else None,
    )
    if run_id is None:
        return None
    audience = tag or poll.tag
    gap = settings.engine.min_days_between_questions
    asked_since = now - timedelta(days=gap) if gap else None
    queued = await unit.outbox.fan_out(run_id, audience, now, asked_since)
    await unit.followups.close_windows_of_run(run_id)  # their next message answers this question
    paused = await unit.outbox.count_paused(audience, now)
    recent = await unit.outbox.count_asked_recently(run_id, audience, now, asked_since) if asked_since else 0
    await unit.runs.mark_fanned_out(run_id, paused=paused, recent=recent)
    log.info("run started poll=%s run=%s queued=%d by=%s", poll.id, run_id, queued, triggered_by)
    return RunStarted(run_id=run_id, poll_id=poll.id, queued=queued)


def _questions(poll: PollSettings, settings: Settings) -> tuple[str, dict[str, str]]:
    """The run's question in the default language, and by language; an anonymous poll's say so in each."""
    default = settings.engine.language
    if not poll.anonymous:
        return poll.question_in(default, default), poll.translations()
    noted = {
        language: f"{poll.question_in(language, default)}\n\n{settings.voice(language)(texts.ANONYMOUS_NOTE)}"
        for language in {*languages(), default}
    }
    return noted[default], noted
