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
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.db import SessionScope
from storage.tone import tone_sql

ALL = "*"  # run_theme_tally.theme for all of a run's answers
NO_THEME = ""  # run_theme_tally.theme for analysed answers that matched no theme
QUOTES_PER_THEME = 3
_LOCK_NAMESPACE = 0x11A  # first key of the (namespace, run id) advisory lock

_analysis = t.answer_analysis.c
_answer = t.answer.c
_change = t.analysis_change.c
_quote = t.run_theme_quote.c
_run = t.poll_run.c
_run_analysis = t.run_analysis.c
_tally = t.run_theme_tally.c
_term = t.answer_term.c
_theme = t.answer_theme.c


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
    conditions: list[ColumnElement[bool]] = [_run.created_at >= start, _run.created_at < end]
    if poll_id is not None:
        conditions.append(_run.poll_id == poll_id)
    return conditions


class AnalysisStore(SessionScope):
    async def stale_runs(
        self, fingerprint: str, scope: tuple[datetime, datetime, str | None] | None = None
    ) -> list[int]:
        """Runs (of the scope's period, or all) to refresh, newest first."""
        changed = exists().where(_change.run_id == _run.id)
        stmt = (
            select(_run.id)
            .outerjoin(t.run_analysis, _run_analysis.run_id == _run.id)
            .where(or_(_run_analysis.run_id.is_(None), _run_analysis.fingerprint != fingerprint, changed))
            .order_by(_run.created_at.desc(), _run.id.desc())
        )
        if scope is not None:
            stmt = stmt.where(*runs_between(*scope))
        async with self._tx() as s:
            return [int(run_id) for run_id in (await s.execute(stmt)).scalars()]

    async def discard_orphan_changes(self) -> int:
        """Change rows of runs that no longer exist (deleted with their answers)."""
        async with self._tx() as s:
            result = await s.execute(delete(t.analysis_change).where(~exists().where(_run.id == _change.run_id)))
            return int(getattr(result, "rowcount", 0) or 0)

    async def change_ids(self, run_id: int) -> list[int]:
        async with self._tx() as s:
            rows = await s.execute(select(_change.id).where(_change.run_id == run_id))
            return [int(i) for i in rows.scalars()]

    async def stale_answers(self, run_id: int, fingerprint: str, after_id: int, limit: int) -> list[PendingAnswer]:
        """Answers of the run still to analyse, in id order after `after_id` (keyset pagination)."""
        stale = or_(
            _analysis.answer_id.is_(None),
            _analysis.fingerprint != fingerprint,
            _answer.edited_at.is_distinct_from(_analysis.edited_at),
        )
        async with self._tx() as s:
            rows = (
                await s.execute(
                    select(_answer.id, _answer.run_id, _answer.text, _answer.edited_at, _analysis.answer_id)
                    .outerjoin(t.answer_analysis, _analysis.answer_id == _answer.id)
                    .where(_answer.run_id == run_id, _answer.id > after_id, stale)
                    .order_by(_answer.id)
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
            existing = set((await s.execute(select(_answer.id).where(_answer.id.in_(ids)))).scalars())
            kept = [f for f in facts if f.answer_id in existing]
            # Only answers analysed before have rows to replace (a first analysis deletes nothing).
            replaced = [f.answer_id for f in facts if f.replaces]
            for table in (t.answer_theme, t.answer_term, t.answer_analysis) if replaced else ():
                await s.execute(delete(table).where(table.c.answer_id.in_(replaced)))
            if not kept:
                return
            await s.execute(
                insert(t.answer_analysis),
                [
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
                await s.execute(insert(t.answer_theme), themes)
            terms = [
                {"answer_id": f.answer_id, "run_id": f.run_id, "term": t}
                for f in kept
                if not f.themes
                for t in sorted(f.terms)
            ]
            if terms:
                await s.execute(insert(t.answer_term), terms)

    async def refresh_run(self, run_id: int, fingerprint: str, change_ids: Sequence[int], now: datetime) -> None:
        """Rebuild the run's tallies and quote candidates; drop the change rows noted before analysing."""
        async with self._tx() as s:
            await _lock_run(s, run_id)
            for table in (t.run_theme_tally, t.run_theme_quote):
                await s.execute(delete(table).where(table.c.run_id == run_id))
            if change_ids:
                await s.execute(delete(t.analysis_change).where(_change.id.in_(list(change_ids))))
            if (await s.execute(select(_run.id).where(_run.id == run_id))).first() is None:
                return
            await s.execute(
                insert(t.run_theme_tally).from_select(
                    ["run_id", "theme", "tone", "answers", "rated", "rating_sum", "promoters", "detractors"],
                    _tallies(run_id),
                )
            )
            await s.execute(
                insert(t.run_theme_quote).from_select(
                    ["run_id", "theme", "answer_id", "rating", "answered_at"], _quote_candidates(run_id)
                )
            )
            await s.execute(delete(t.run_analysis).where(_run_analysis.run_id == run_id))
            await s.execute(insert(t.run_analysis).values(run_id=run_id, fingerprint=fingerprint, analysed_at=now))


async def _lock_run(s: AsyncConnection, run_id: int) -> None:
    """Serialise writers of one run's analysis until the transaction ends (PostgreSQL only)."""
    if s.dialect.name == "postgresql":
        await s.execute(select(func.pg_advisory_xact_lock(_LOCK_NAMESPACE, run_id)))


def _tallies(run_id: int) -> CompoundSelect[Any]:
    """One SELECT: the run's answers per tone for all answers, each theme, and 'no theme'."""
    tone = tone_sql(_answer.rating, _run.scale)

    def counts(theme: ColumnElement[str]) -> tuple[ColumnElement[Any], ...]:
        return (
            theme.label("theme"),
            tone.label("tone"),
            func.count().label("answers"),
            func.count(_answer.rating).label("rated"),
            func.coalesce(func.sum(_answer.rating), 0).label("rating_sum"),
            func.count().filter(_answer.rating >= 9).label("promoters"),
            func.count().filter(_answer.rating <= 6).label("detractors"),
        )

    base = [_answer.run_id == run_id]
    everything = (
        select(literal(run_id).label("run_id"), *counts(literal(ALL)))
        .select_from(t.answer)
        .join(t.poll_run, _run.id == _answer.run_id)
        .where(*base)
        .group_by(tone)
    )
    themed = (
        select(literal(run_id).label("run_id"), *counts(_theme.theme))
        .select_from(t.answer_theme)
        .join(t.answer, _answer.id == _theme.answer_id)
        .join(t.poll_run, _run.id == _answer.run_id)
        .where(*base)
        .group_by(_theme.theme, tone)
    )
    unthemed = (
        select(literal(run_id).label("run_id"), *counts(literal(NO_THEME)))
        .select_from(t.answer_analysis)
        .join(t.answer, _answer.id == _analysis.answer_id)
        .join(t.poll_run, _run.id == _answer.run_id)
        .where(*base, ~exists().where(_theme.answer_id == _answer.id))
        .group_by(tone)
    )
    return union_all(everything, themed, unthemed)


def _quote_candidates(run_id: int) -> Select[Any]:
    """Per theme ('' for none), the run's lowest-rated problem answers with text, newest first on ties."""
    theme = func.coalesce(_theme.theme, literal(NO_THEME))
    ranked = (
        select(
            _answer.run_id.label("run_id"),
            theme.label("theme"),
            _answer.id.label("answer_id"),
            _answer.rating.label("rating"),
            _answer.answered_at.label("answered_at"),
            func.row_number()
            .over(partition_by=theme, order_by=(_answer.rating, _answer.answered_at.desc(), _answer.id.desc()))
            .label("n"),
        )
        .select_from(t.answer)
        .join(t.poll_run, _run.id == _answer.run_id)
        .join(t.answer_analysis, _analysis.answer_id == _answer.id)
        .outerjoin(t.answer_theme, _theme.answer_id == _answer.id)
        .where(
            _answer.run_id == run_id,
            tone_sql(_answer.rating, _run.scale) == "problem",
            func.length(func.trim(_answer.text)) > 0,
        )
        .subquery()
    )
    return select(ranked.c.run_id, ranked.c.theme, ranked.c.answer_id, ranked.c.rating, ranked.c.answered_at).where(
        and_(ranked.c.n <= QUOTES_PER_THEME)
    )
