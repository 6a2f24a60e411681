"""Storage of answer analysis: what is stale, the facts found per answer, and per-run tallies.

Freshness has two sources. A run is stale when its `run_analysis` row is missing or was made under
another fingerprint (themes, languages or the analyser changed), or when `analysis_change` holds
rows for it (the triggers on `answer` add one on every insert, delete, edit and rating). Within a
stale run, an answer needs the lemmatiser again only if it has no `answer_analysis` row under the
fingerprint, or its text was edited since (`edited_at` differs from the one analysed).

Refreshing a run: note its change rows, analyse its stale answers, then in one transaction rebuild
its tallies and quote candidates and delete exactly the change rows noted. A change that lands
meanwhile has a row not noted, so the run stays stale and is refreshed next time. Two processes
refreshing the same run (a scheduled digest and a manager's /digest) take turns: on PostgreSQL each
write transaction holds an advisory lock on the run; SQLite has one writer anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, literal, or_, select, union_all
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import SessionScope
from storage.models import (
    AnalysisChange,
    Answer,
    AnswerAnalysis,
    AnswerTerm,
    AnswerTheme,
    PollRun,
    RunAnalysis,
    RunThemeQuote,
    RunThemeTally,
)
from storage.tone import tone_sql

ALL = "*"  # RunThemeTally.theme for all of a run's answers
NO_THEME = ""  # RunThemeTally.theme for analysed answers that matched no theme
QUOTES_PER_THEME = 3
_LOCK_NAMESPACE = 0x11A  # first key of the (namespace, run id) advisory lock


@dataclass(frozen=True, slots=True)
class PendingAnswer:
    answer_id: int
    run_id: int
    text: str
    edited_at: datetime | None
    analysed: bool  # has an older analysis to replace


@dataclass(frozen=True, slots=True)
class AnswerFacts:
    """What the analyser found in one answer (terms only matter when no theme matched)."""

    answer_id: int
    run_id: int
    edited_at: datetime | None
    themes: tuple[str, ...]
    terms: frozenset[str]
    replaces: bool = False  # an older analysis of this answer exists


def runs_between(start: datetime, end: datetime, poll_id: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(PollRun.created_at) >= start, col(PollRun.created_at) < end]
    if poll_id is not None:
        conditions.append(col(PollRun.poll_id) == poll_id)
    return conditions


class AnalysisStore(SessionScope):
    async def stale_runs(
        self, fingerprint: str, scope: tuple[datetime, datetime, str | None] | None = None
    ) -> list[int]:
        """Runs (of the scope's period, or all) to refresh, newest first."""
        changed = exists().where(AnalysisChange.run_id == PollRun.id)
        stmt = (
            select(PollRun.id)
            .outerjoin(RunAnalysis, RunAnalysis.run_id == PollRun.id)
            .where(or_(RunAnalysis.run_id.is_(None), RunAnalysis.fingerprint != fingerprint, changed))
            .order_by(PollRun.created_at.desc(), PollRun.id.desc())
        )
        if scope is not None:
            stmt = stmt.where(*runs_between(*scope))
        async with self._tx() as s:
            return [int(run_id) for run_id in (await s.exec(stmt)).scalars()]

    async def discard_orphan_changes(self) -> int:
        """Change rows of runs that no longer exist (deleted with their answers)."""
        async with self._tx() as s:
            result = await s.exec(delete(AnalysisChange).where(~exists().where(PollRun.id == AnalysisChange.run_id)))
            return int(result.rowcount or 0)

    async def change_ids(self, run_id: int) -> list[int]:
        async with self._tx() as s:
            rows = await s.exec(select(AnalysisChange.id).where(AnalysisChange.run_id == run_id))
            return [int(i) for i in rows.scalars()]

    async def stale_answers(self, run_id: int, fingerprint: str, after_id: int, limit: int) -> list[PendingAnswer]:
        """Answers of the run still to analyse, in id order after `after_id` (keyset pagination)."""
        stale = or_(
            AnswerAnalysis.answer_id.is_(None),
            AnswerAnalysis.fingerprint != fingerprint,
            Answer.edited_at.is_distinct_from(AnswerAnalysis.edited_at),
        )
        async with self._tx() as s:
            rows = (
                await s.exec(
                    select(Answer.id, Answer.run_id, Answer.text, Answer.edited_at, AnswerAnalysis.answer_id)
                    .outerjoin(AnswerAnalysis, AnswerAnalysis.answer_id == Answer.id)
                    .where(Answer.run_id == run_id, Answer.id > after_id, stale)
                    .order_by(Answer.id)
                    .limit(limit)
                )
            ).all()
        return [PendingAnswer(int(i), int(r), text, edited, old is not None) for i, r, text, edited, old in rows]

    async def save_facts(self, facts: Sequence[AnswerFacts], fingerprint: str, now: datetime) -> None:
        """Replace the analysis of these answers (answers deleted meanwhile are skipped)."""
        if not facts:
            return
        async with self._tx() as s:
            for run_id in sorted({f.run_id for f in facts}):
                await _lock_run(s, run_id)
            ids = [f.answer_id for f in facts]
            existing = set((await s.exec(select(Answer.id).where(Answer.id.in_(ids)))).scalars())
            kept = [f for f in facts if f.answer_id in existing]
            # Only answers analysed before have rows to replace (a first analysis deletes nothing).
            replaced = [f.answer_id for f in facts if f.replaces]
            for table in (AnswerTheme, AnswerTerm, AnswerAnalysis) if replaced else ():
                await s.exec(delete(table).where(table.answer_id.in_(replaced)))
            if not kept:
                return
            await s.exec(
                insert(AnswerAnalysis),
                params=[
                    {
                        "answer_id": f.answer_id,
                        "run_id": f.run_id,
                        "fingerprint": fingerprint,
                        "edited_at": f.edited_at,
                        "analysed_at": now,
                    }
                    for f in kept
                ],
            )
            themes = [{"answer_id": f.answer_id, "run_id": f.run_id, "theme": t} for f in kept for t in f.themes]
            if themes:
                await s.exec(insert(AnswerTheme), params=themes)
            terms = [
                {"answer_id": f.answer_id, "run_id": f.run_id, "term": t}
                for f in kept
                if not f.themes
                for t in sorted(f.terms)
            ]
            if terms:
                await s.exec(insert(AnswerTerm), params=terms)

    async def refresh_run(self, run_id: int, fingerprint: str, change_ids: Sequence[int], now: datetime) -> None:
        """Rebuild the run's tallies and quote candidates; drop the change rows noted before analysing."""
        async with self._tx() as s:
            await _lock_run(s, run_id)
            for table in (RunThemeTally, RunThemeQuote):
                await s.exec(delete(table).where(table.run_id == run_id))
            if change_ids:
                await s.exec(delete(AnalysisChange).where(AnalysisChange.id.in_(list(change_ids))))
            if await s.get(PollRun, run_id) is None:
                return
            await s.exec(
                insert(RunThemeTally).from_select(
                    ["run_id", "theme", "tone", "answers", "rated", "rating_sum", "promoters", "detractors"],
                    _tallies(run_id),
                )
            )
            await s.exec(
                insert(RunThemeQuote).from_select(
                    ["run_id", "theme", "answer_id", "rating", "answered_at"], _quote_candidates(run_id)
                )
            )
            await s.exec(delete(RunAnalysis).where(RunAnalysis.run_id == run_id))
            s.add(RunAnalysis(run_id=run_id, fingerprint=fingerprint, analysed_at=now))


async def _lock_run(s: AsyncSession, run_id: int) -> None:
    """Serialise writers of one run's analysis until the transaction ends (PostgreSQL only)."""
    if s.bind.dialect.name == "postgresql":
        await s.exec(select(func.pg_advisory_xact_lock(_LOCK_NAMESPACE, run_id)))


def _tallies(run_id: int):  # type: ignore[no-untyped-def]
    """One SELECT: the run's answers per tone for all answers, each theme, and 'no theme'."""
    tone = tone_sql(Answer.rating, PollRun.scale)

    def counts(theme: ColumnElement[str]):  # type: ignore[no-untyped-def]
        return (
            theme.label("theme"),
            tone.label("tone"),
            func.count().label("answers"),
            func.count(Answer.rating).label("rated"),
            func.coalesce(func.sum(Answer.rating), 0).label("rating_sum"),
            func.count().filter(Answer.rating >= 9).label("promoters"),
            func.count().filter(Answer.rating <= 6).label("detractors"),
        )

    base = [Answer.run_id == run_id]
    everything = (
        select(literal(run_id).label("run_id"), *counts(literal(ALL)))
        .select_from(Answer)
        .join(PollRun, PollRun.id == Answer.run_id)
        .where(*base)
        .group_by(tone)
    )
    themed = (
        select(literal(run_id).label("run_id"), *counts(AnswerTheme.theme))
        .select_from(AnswerTheme)
        .join(Answer, Answer.id == AnswerTheme.answer_id)
        .join(PollRun, PollRun.id == Answer.run_id)
        .where(*base)
        .group_by(AnswerTheme.theme, tone)
    )
    unthemed = (
        select(literal(run_id).label("run_id"), *counts(literal(NO_THEME)))
        .select_from(AnswerAnalysis)
        .join(Answer, Answer.id == AnswerAnalysis.answer_id)
        .join(PollRun, PollRun.id == Answer.run_id)
        .where(*base, ~exists().where(AnswerTheme.answer_id == Answer.id))
        .group_by(tone)
    )
    return union_all(everything, themed, unthemed)


def _quote_candidates(run_id: int):  # type: ignore[no-untyped-def]
    """Per theme ('' for none), the run's lowest-rated problem answers with text, newest first on ties."""
    theme = func.coalesce(AnswerTheme.theme, literal(NO_THEME))
    ranked = (
        select(
            Answer.run_id.label("run_id"),
            theme.label("theme"),
            Answer.id.label("answer_id"),
            Answer.rating.label("rating"),
            Answer.answered_at.label("answered_at"),
            func.row_number()
            .over(partition_by=theme, order_by=(Answer.rating, Answer.answered_at.desc(), Answer.id.desc()))
            .label("n"),
        )
        .select_from(Answer)
        .join(PollRun, PollRun.id == Answer.run_id)
        .join(AnswerAnalysis, AnswerAnalysis.answer_id == Answer.id)
        .outerjoin(AnswerTheme, AnswerTheme.answer_id == Answer.id)
        .where(
            Answer.run_id == run_id,
            tone_sql(Answer.rating, PollRun.scale) == "problem",
            func.length(func.trim(Answer.text)) > 0,
        )
        .subquery()
    )
    return select(ranked.c.run_id, ranked.c.theme, ranked.c.answer_id, ranked.c.rating, ranked.c.answered_at).where(
        and_(ranked.c.n <= QUOTES_PER_THEME)
    )
