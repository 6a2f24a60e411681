"""The incremental analyser: themes and terms of answers not analysed yet, then per-run tallies.

Analysis is decoupled from the write path: storing an answer does no language work. Triggers on
the answer table queue the runs whose answers changed (storage.analysis); `refresh` works through
them in batches, lemmatising only the answers that are new or edited (or all of a run when the
themes or languages changed: the fingerprint), and rebuilds each run's tallies in SQL. Digests call
it for their own periods first, so they always count fresh data; anything may call it periodically
(`refresh(now)` with no scope) to keep that first call short.

Lemmatising is CPU work, done in a worker thread batch by batch, so the event loop keeps serving
chats; memory stays flat (keyset pagination, `BATCH` answers at a time).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings, ThemeSettings
from bot.reporting.text import Lexicon
from bot.reporting.themes import ThemeMatcher
from storage.analysis import AnalysisStore, AnswerFacts, PendingAnswer

log = logging.getLogger("feedbot.analyser")

# Bump when matching or term extraction changes, so stored analysis is redone.
ANALYSER_VERSION = 1
BATCH = 500


def fingerprint(languages: Sequence[str], themes: Sequence[ThemeSettings]) -> str:
    """Identifies everything the stored analysis depends on."""
    data = {
        "version": ANALYSER_VERSION,
        "languages": list(languages),
        "themes": [[t.name, list(t.keywords)] for t in themes],
    }
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()[:32]


@lru_cache(maxsize=8)
def lexicon(languages: tuple[str, ...]) -> Lexicon:
    return Lexicon(languages)


@dataclass(frozen=True, slots=True)
class AnalysisReport:
    runs: int  # runs refreshed
    answers: int  # answers lemmatised


class TextAnalysis:
    """The pure part: one answer's themes and terms under one configuration."""

    def __init__(self, languages: Sequence[str], themes: Sequence[ThemeSettings]) -> None:
        self.lexicon = lexicon(tuple(languages))
        self.matcher = ThemeMatcher(themes, self.lexicon)
        self.fingerprint = fingerprint(languages, themes)

    def themes(self, text: str) -> tuple[str, ...]:
        return self.matcher.match(self.lexicon.tokens(text))

    def facts(self, answer: PendingAnswer) -> AnswerFacts:
        tokens = self.lexicon.tokens(answer.text)
        themes = self.matcher.match(tokens)
        terms = frozenset() if themes else frozenset(self.lexicon.terms(tokens))
        return AnswerFacts(answer.answer_id, answer.run_id, answer.edited_at, themes, terms, answer.analysed)

    def batch(self, answers: Sequence[PendingAnswer]) -> list[AnswerFacts]:
        return [self.facts(a) for a in answers]


class Analyser:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.store = AnalysisStore(engine)
        self.text = TextAnalysis(settings.engine.languages, settings.themes)

    @property
    def fingerprint(self) -> str:
        return self.text.fingerprint

    async def refresh(
        self, now: datetime, scope: tuple[datetime, datetime, str | None] | None = None
    ) -> AnalysisReport:
        """Bring the runs created in `scope` (start, end, poll id), or all runs, up to date."""
        if scope is None:
            await self.store.discard_orphan_changes()
        runs = await self.store.stale_runs(self.fingerprint, scope)
        answers = 0
        for run_id in runs:
            answers += await self._refresh_run(run_id, now)
        if runs:
            log.info("analysed runs=%d answers=%d", len(runs), answers)
        return AnalysisReport(len(runs), answers)

    async def _refresh_run(self, run_id: int, now: datetime) -> int:
        noted = await self.store.change_ids(run_id)
        done, after = 0, 0
        while True:
            pending = await self.store.stale_answers(run_id, self.fingerprint, after, BATCH)
            if not pending:
                break
            facts = await asyncio.to_thread(self.text.batch, pending)
            await self.store.save_facts(facts, self.fingerprint, now)
            done += len(pending)
            after = pending[-1].answer_id
        await self.store.refresh_run(run_id, self.fingerprint, noted, now)
        return done
