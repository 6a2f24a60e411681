"""The analyser against real databases: the labelled set end to end, and what makes analysis stale."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, func, literal, select

from bot.config import Settings
from bot.reporting.analyser import Analyser
from bot.reporting.export import export_answers
from storage.analysis import ALL, NO_THEME, AnalysisStore
from storage.models import AnalysisChange, Answer, AnswerAnalysis, AnswerTerm, AnswerTheme, RunThemeTally
from storage.reporting import Reports
from storage.store import Store
from storage.tone import tone, tone_sql
from tests.labelled_answers import LABELLED, LANGUAGES, THEMES
from tests.reporting_seed import add_customers, run_poll
from tests.support import make_settings

NOW = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
CREATED = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def cafe(**overrides: Any) -> Settings:
    data: dict[str, Any] = {"engine": {"languages": LANGUAGES}, "themes": THEMES}
    data.update(overrides)
    return make_settings(data)


async def edit_answer(store: Store, source: str, text: str) -> bool:
    async with store.unit() as unit:
        return await unit.conversation.edit_answer(source, text, NOW)


async def rate_answer(store: Store, customer: int, run: int, rating: int) -> bool:
    async with store.unit() as unit:
        return await unit.conversation.rate_answer(customer, run, rating)


async def erase_customer(store: Store, customer: int) -> bool:
    async with store.unit() as unit:
        return await unit.customers.erase(customer)


async def seed_labelled(store: Store) -> None:
    five = tuple((text, rating) for text, rating, scale, *_ in LABELLED if scale == 5)
    ten = tuple((text, rating) for text, rating, scale, *_ in LABELLED if scale == 10)
    await add_customers(store, len(five))
    await run_poll(store, CREATED, sent=len(five), answers=five)
    await run_poll(store, CREATED + timedelta(hours=1), sent=len(ten), answers=ten, poll_id="recommend", scale=10)


async def exported(store: Store, settings: Settings) -> list[dict[str, Any]]:
    out = io.StringIO()
    fingerprint = Analyser(store.db, settings).fingerprint
    await export_answers(Reports(store.db), out, "json", fingerprint=fingerprint)
    rows: list[dict[str, Any]] = json.loads(out.getvalue())
    return rows


async def answer_customer(store: Store, run_id: int) -> int:
    async with AnalysisStore(store.db)._tx() as s:
        return int((await s.execute(select(Answer.customer_id).where(Answer.run_id == run_id))).one()[0])


async def answer_customer_of(store: Store, text: str) -> int:
    async with AnalysisStore(store.db)._tx() as s:
        return int((await s.execute(select(Answer.customer_id).where(Answer.text == text))).one()[0])


async def count(store: Store, table: type) -> int:
    async with AnalysisStore(store.db)._tx() as s:
        return int((await s.execute(select(func.count()).select_from(table))).one()[0])


async def test_the_labelled_set_end_to_end_shows_each_answers_themes_and_tone(store: Store) -> None:
    await seed_labelled(store)
    settings = cafe()
    report = await Analyser(store.db, settings).refresh(NOW)
    assert (report.runs, report.answers) == (2, len(LABELLED))
    rows = await exported(store, settings)
    assert [(r["answer"], set(r["themes"]), r["tone"]) for r in rows] == [
        (text.replace("\x00", ""), set(themes), label) for text, _, _, themes, label in LABELLED
    ]
    # Nothing changed: a second pass lemmatises nothing and refreshes no run.
    assert await Analyser(store.db, settings).refresh(NOW) == type(report)(0, 0)
    assert await count(store, AnalysisChange) == 0


async def test_tallies_count_each_theme_and_tone_per_run(store: Store) -> None:
    await seed_labelled(store)
    await Analyser(store.db, cafe()).refresh(NOW)
    tallies = await Reports(store.db).tallies(CREATED, CREATED + timedelta(days=1))
    five = {(t.theme, t.tone): t.answers for t in tallies if t.scale == 5}
    labelled_five = [a for a in LABELLED if a[2] == 5]
    assert sum(n for (theme, _), n in five.items() if theme == ALL) == len(labelled_five)
    for theme in [t["name"] for t in THEMES]:
        for label in ("praise", "neutral", "problem"):
            expected = sum(1 for a in labelled_five if theme in a[3] and a[4] == label)
            assert five.get((theme, label), 0) == expected, (theme, label)
    expected_unthemed = sum(1 for a in labelled_five if not a[3] and a[4] == "problem")
    assert five[(NO_THEME, "problem")] == expected_unthemed


async def test_new_edited_and_rerated_answers_make_only_their_run_stale(store: Store) -> None:
    await add_customers(store, 4)
    first = await run_poll(store, CREATED, sent=2, answers=(("coffee", 5),))
    second = await run_poll(store, CREATED + timedelta(days=1), sent=2, answers=(("nice", 5),))
    settings = cafe()
    analyser = Analyser(store.db, settings)
    assert (await analyser.refresh(NOW)).answers == 2

    assert await edit_answer(store, f"telegram:{await answer_customer(store, first)}:{first}", "the croissants")
    assert await analyser.store.stale_runs(analyser.fingerprint) == [first]
    report = await analyser.refresh(NOW)
    assert (report.runs, report.answers) == (1, 1)
    rows = await exported(store, settings)
    assert [r["themes"] for r in rows] == [["Pastries"], []]

    # A new rating changes the tone only: the run is refreshed, nothing is lemmatised again.
    answerer = await answer_customer(store, second)
    assert await rate_answer(store, answerer, second, 1)
    report = await analyser.refresh(NOW)
    assert (report.runs, report.answers) == (1, 0)
    tallies = await Reports(store.db).tallies(CREATED, NOW)
    assert {(t.run_id, t.theme, t.tone) for t in tallies if t.theme == ALL} == {
        (first, ALL, "praise"),
        (second, ALL, "problem"),
    }


async def test_a_theme_change_reanalyses_and_forget_erases_the_analysis(store: Store) -> None:
    await add_customers(store, 2)
    await run_poll(store, CREATED, sent=2, answers=(("great wifi", 5), ("patchy wifi", 2)))
    assert (await Analyser(store.db, cafe()).refresh(NOW)).answers == 2
    assert await count(store, AnswerTerm) > 0 and await count(store, AnswerTheme) == 0

    with_wifi = cafe(themes=[*THEMES, {"name": "Wifi", "keywords": ["wifi"]}])
    assert (await Analyser(store.db, with_wifi).refresh(NOW)).answers == 2
    assert [r["themes"] for r in await exported(store, with_wifi)] == [["Wifi"], ["Wifi"]]
    # Exported under the old configuration, the themes are unknown rather than wrong.
    assert [r["themes"] for r in await exported(store, cafe())] == [None, None]

    assert await erase_customer(store, await answer_customer_of(store, "great wifi"))
    await Analyser(store.db, with_wifi).refresh(NOW)
    assert await count(store, AnswerAnalysis) == 1 and await count(store, AnswerTheme) == 1
    tallies = await Reports(store.db).tallies(CREATED, NOW)
    assert sum(t.answers for t in tallies if t.theme == ALL) == 1


async def test_triggers_queue_every_kind_of_answer_change(store: Store) -> None:
    await add_customers(store, 2)
    run = await run_poll(store, CREATED, sent=2, answers=(("one", None),))
    assert await count(store, AnalysisChange) == 1  # the insert
    answerer = await answer_customer(store, run)
    await edit_answer(store, f"telegram:{answerer}:{run}", "two")
    await rate_answer(store, answerer, run, 4)
    assert await count(store, AnalysisChange) == 3
    await erase_customer(store, answerer)
    assert await count(store, AnalysisChange) == 4
    assert await count(store, RunThemeTally) == 0


async def test_tone_in_python_and_in_sql_agree(store: Store) -> None:
    cases = [(r, 5) for r in (None, 1, 2, 3, 4, 5)] + [(r, 10) for r in (None, *range(11))]
    async with AnalysisStore(store.db)._tx() as s:
        for rating, scale in cases:
            value = (await s.execute(select(tone_sql(literal(rating, Integer), literal(scale, Integer))))).one()[0]
            assert value == tone(rating, scale), (rating, scale)
