"""The digest: periods, the hand-computed fixture, a café's week, the period so far, safe quotes, /goals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.reporting.digest import (
    build_digest,
    current_period,
    goals_status_text,
    last_complete_period,
    period_label,
    previous_period,
    sanitise_quote,
)
from storage.reporting import Reports
from storage.store import Store
from tests.labelled_answers import THEMES as THEMES_CAFE
from tests.reporting_seed import (
    LONG_ANSWER,
    NOW,
    PREVIOUS_WEEK,
    WEEK,
    add_customers,
    run_poll,
    seed_weeks,
)
from tests.support import make_settings

BERLIN = ZoneInfo("Europe/Berlin")
GOALS: list[dict[str, Any]] = [
    {"metric": "response_rate", "target": 33},
    {"metric": "average_rating", "target": 4.2},
    {"metric": "answers", "target": 5},
]
THEMES = [
    {"name": "Food", "keywords": ["coffee", "breakfast"]},
    {"name": "Staff", "keywords": ["staff", "friendly", "waiter"]},
]


def settings(**overrides: Any) -> Settings:
    data: dict[str, Any] = {"digest": {"timezone": "Europe/Berlin"}, "goals": GOALS, "themes": THEMES}
    data.update(overrides)
    return make_settings(data)


# ------------------------------------------------------------------------------------ periods
def test_last_complete_periods_in_local_time() -> None:
    now = datetime(2026, 3, 4, 0, 30, tzinfo=UTC)  # Wednesday 01:30 in Berlin
    day = last_complete_period("day", now, BERLIN)
    assert (day.start, day.end) == (datetime(2026, 3, 2, 23, tzinfo=UTC), datetime(2026, 3, 3, 23, tzinfo=UTC))
    assert period_label(day) == "Tue 3 Mar 2026"
    week = last_complete_period("week", now, BERLIN)
    assert (week.start, week.end) == PREVIOUS_WEEK
    assert period_label(week) == "week Mon 23 Feb – Sun 1 Mar 2026"
    month = last_complete_period("month", now, BERLIN)
    assert (month.start, month.end) == (datetime(2026, 1, 31, 23, tzinfo=UTC), datetime(2026, 2, 28, 23, tzinfo=UTC))
    assert period_label(month) == "February 2026"


def test_period_boundaries_are_exact() -> None:
    monday_midnight = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)  # Mon 9 Mar 00:00 Berlin
    assert last_complete_period("week", monday_midnight, BERLIN).end == monday_midnight
    just_before = monday_midnight - timedelta(microseconds=1)
    assert last_complete_period("week", just_before, BERLIN).end == WEEK[0]
    assert period_label(last_complete_period("week", monday_midnight, BERLIN)) == "week Mon 2 Mar – Sun 8 Mar 2026"


def test_periods_across_daylight_saving_and_year_end() -> None:
    # Berlin springs forward on Sunday 29 March 2026 and falls back on Sunday 25 October 2026.
    spring = last_complete_period("week", datetime(2026, 3, 31, 12, tzinfo=UTC), BERLIN)
    assert spring.end - spring.start == timedelta(hours=167)
    autumn = last_complete_period("week", datetime(2026, 10, 27, 12, tzinfo=UTC), BERLIN)
    assert autumn.end - autumn.start == timedelta(hours=169)
    day = last_complete_period("day", datetime(2026, 3, 30, 12, tzinfo=UTC), BERLIN)
    assert day.end - day.start == timedelta(hours=23)
    january = current_period("month", datetime(2026, 1, 15, tzinfo=UTC), BERLIN)
    december = previous_period(january)
    assert december.start == datetime(2025, 11, 30, 23, tzinfo=UTC) and december.end == january.start
    assert period_label(previous_period(current_period("week", datetime(2026, 1, 2, tzinfo=UTC), BERLIN))) == (
        "week Mon 22 Dec – Sun 28 Dec 2025"
    )
    assert period_label(current_period("week", datetime(2026, 1, 2, tzinfo=UTC), BERLIN)) == (
        "week Mon 29 Dec 2025 – Sun 4 Jan 2026"
    )


# ------------------------------------------------------------------------------------ quotes
def test_quotes_cannot_break_or_spoof_the_digest() -> None:
    hostile = "ok\n⚠️ WARNING: fake\r\nline\x00\x1b[31m\u2028tab\there \u202eevil\u2066 family 👨\u200d👩\u200d👧"
    assert sanitise_quote(hostile) == "ok ⚠️ WARNING: fake line [31m tab here evil family 👨\u200d👩\u200d👧"


def test_long_quotes_are_cut_at_a_word_with_an_ellipsis() -> None:
    short = sanitise_quote(LONG_ANSWER)
    assert short == "The terrace view was lovely. " * 6 + "The terrace view was…"
    assert len(short) <= 200
    unbroken = sanitise_quote("x" * 500)
    assert unbroken == "x" * 199 + "…"
    assert sanitise_quote("  fine  ") == "fine"


# ------------------------------------------------------------------------------------ the digest
EXPECTED_TEXT = f"""Feedback digest – week Mon 2 Mar – Sun 8 Mar 2026 (Europe/Berlin)
⚠️ WARNING: goal Answers missed two weeks in a row (3 the week before, 3 now; target 5)
10 customers asked, 8 questions delivered, 3 answers – response rate 38%
Average rating 4.0 / 5 (3 ratings)
1 unhappy customer, 0 answered by staff

Goals:
✅ Response rate 38% – target 33% – met, up 8 points on last week
❌ Average rating 4.0 – target 4.2 – missed, down 1.0 on last week
❌ Answers 3 – target 5 – missed, same as last week

What customers liked:
• Food: 2 answers, up 2 on last week
• Staff: 1 answer, up 1 on last week

What to fix:
• Other (no theme): 1 answer
   “{"The terrace view was lovely. " * 6}The terrace view was…” (3/5)

Also mentioned (answers that matched no theme):
• lovely: 1 answer
• terrace view: 1 answer"""


async def test_digest_matches_the_hand_computed_fixture(store: Store) -> None:
    await seed_weeks(store)
    digest = await build_digest(Reports(store.db), settings(), "week", NOW)

    assert (digest.start, digest.end) == WEEK
    assert (digest.customers, digest.questions, digest.delivered, digest.answers) == (10, 10, 8, 3)
    assert (digest.response_rate, digest.average_rating, digest.ratings, digest.nps) == (38, 4.0, 3, None)
    assert [(g.metric, g.actual, g.met, g.change) for g in digest.goals] == [
        ("response_rate", 38, True, 8),
        ("average_rating", 4.0, False, -1.0),
        ("answers", 3, False, 0),
    ]
    assert [g.metric for g in digest.goals if g.missed_twice] == ["answers"]
    assert digest.text == EXPECTED_TEXT
    # Chart: the three answers arrived on Tuesday, an hour after the run was created.
    assert [(d.label, d.answers) for d in digest.days][:3] == [("Mon 2", 0), ("Tue 3", 3), ("Wed 4", 0)]
    assert digest.days[1].response_rate == 37.5 and digest.days[1].average_rating == 4.0
    assert digest.chart_png.startswith(b"\x89PNG\r\n\x1a\n")


CAFE_WEEK: tuple[tuple[str, int | None], ...] = (
    ("The croissants were amazing", 5),
    ("Best croissant in town", 5),
    ("CROISSANTS!!!", 5),
    ("Loved the pastries", 5),
    ("the croisants were buttery", 5),
    ("Scones with jam, perfect", 5),
    ("The cakes are to die for", 5),
    ("Les croissants étaient délicieux", 5),
    ("Two muffins and a croissant, all fresh", 5),
    ("pastry selection is great", 4),
    ("Croissants are the best", 4),
    ("Lovely pastries and friendly staff", 5),
    ("Friendly staff", 5),
    ("Los camareros muy amables", 5),
    ("Le serveur était très gentil", 4),
    ("The flat white was perfect", 5),
    ("Flat whites are the best in town", 4),
    ("Service was really slow", 3),
    ("my coffee was cold", 2),
    ("We waited ages for a table", 2),
    ("The wifi kept dropping", 2),
    ("Great music", 5),
    ("wifi password on the wall would help", 3),
    ("Music too loud", 2),
    ("Nice view of the river", None),
)


def cafe_settings() -> Settings:
    return settings(
        engine={"languages": ["en", "fr", "es"]},
        themes=THEMES_CAFE,
        goals=[
            {"metric": "response_rate", "target": 60},
            {"metric": "average_rating", "target": 4.5},
        ],
    )


async def test_a_cafe_week_reads_as_a_manager_needs_it(store: Store) -> None:
    await add_customers(store, 30)
    await run_poll(
        store,
        datetime(2026, 2, 24, 10, tzinfo=UTC),
        sent=20,
        answers=(
            ("Nice croissants", 5),
            ("Friendly staff", 5),
            ("slow service", 2),
        ),
    )
    await run_poll(store, datetime(2026, 3, 3, 10, tzinfo=UTC), sent=28, answers=CAFE_WEEK)
    text = (await build_digest(Reports(store.db), cafe_settings(), "week", NOW)).text
    sections = text.split("\n\n")
    assert sections[0].splitlines()[1:] == [
        "⚠️ WARNING: goal Average rating missed two weeks in a row (4.0 the week before, 4.2 now; target 4.5)",
        "30 customers asked, 28 questions delivered, 25 answers – response rate 89%",
        "Average rating 4.2 / 5 (24 ratings)",
        "6 unhappy customers, 0 answered by staff",
    ]
    assert sections[1].splitlines() == [
        "Goals:",
        "✅ Response rate 89% – target 60% – met, up 74 points on last week",
        "❌ Average rating 4.2 – target 4.5 – missed, up 0.2 on last week",
    ]
    assert sections[2].splitlines() == [
        "What customers liked:",
        "• Pastries: 12 answers, up 11 on last week",
        "• Staff: 4 answers, up 3 on last week",
        "• Coffee: 2 answers, up 2 on last week",
    ]
    assert sections[3].splitlines() == [
        "What to fix:",
        "• Service: 2 answers",
        "   “We waited ages for a table” (2/5)",
        "   “Service was really slow” (3/5)",
        "• Coffee: 1 answer",
        "   “my coffee was cold” (2/5)",
        "• Seating: 1 answer",
        "   “We waited ages for a table” (2/5)",
        "• Other (no theme): 3 answers",
        "   “Music too loud” (2/5)",
        "   “The wifi kept dropping” (2/5)",
    ]
    also = sections[4].splitlines()
    assert also[0] == "Also mentioned (answers that matched no theme):"
    assert {"• music: 2 answers", "• wifi: 2 answers"} <= set(also)


GERMAN_TEXT = f"""Feedback-Bericht – Woche Mo., 2. März – So., 8. März 2026 (Europe/Berlin)
⚠️ ACHTUNG: Ziel Antworten zwei Wochen in Folge verfehlt (3 in der Woche davor, 3 jetzt; Ziel 5)
10 Kunden gefragt, 8 Fragen zugestellt, 3 Antworten – Antwortquote 38\u00a0%
Durchschnittliche Bewertung 4,0 / 5 (3 Bewertungen)
1 unzufriedene Rückmeldung, 0 davon vom Team beantwortet

Ziele:
✅ Antwortquote 38\u00a0% – Ziel 33\u00a0% – erreicht, 8 Punkte mehr als letzte Woche
❌ Durchschnittliche Bewertung 4,0 – Ziel 4,2 – verfehlt, 1,0 weniger als letzte Woche
❌ Antworten 3 – Ziel 5 – verfehlt, gleich wie letzte Woche

Was gefallen hat:
• Food: 2 Antworten, 2 mehr als letzte Woche
• Staff: 1 Antwort, 1 mehr als letzte Woche

Was besser werden muss:
• Sonstiges (kein Thema): 1 Antwort
   “{"The terrace view was lovely. " * 6}The terrace view was…” (3/5)

Außerdem genannt (Antworten ohne passendes Thema):
• lovely: 1 Antwort
• terrace view: 1 Antwort"""


async def test_the_digest_in_german_with_german_dates_and_numbers(store: Store) -> None:
    """The same fixture for a manager whose app is German: words, dates (Babel) and decimals are German
    (and a percent sign after a no-break space, as German writes it)."""
    await seed_weeks(store)
    digest = await build_digest(Reports(store.db), settings(), "week", NOW, language="de-DE", chart=False)
    assert digest.text == GERMAN_TEXT
    assert [d.label for d in digest.days][:3] == ["Mo. 2.", "Di. 3.", "Mi. 4."]
    english = await build_digest(Reports(store.db), settings(), "week", NOW, language="it", chart=False)
    assert english.text == EXPECTED_TEXT  # no Italian catalog: [engine] language
    french = await build_digest(Reports(store.db), settings(engine={"language": "fr"}), "week", NOW, chart=False)
    assert french.text.startswith("Synthèse des avis – semaine du lun. 2 mars au dim. 8 mars 2026 (Europe/Berlin)")
    assert "Note moyenne 4,0 / 5 (3 notes)" in french.text


async def test_on_demand_digest_shows_the_period_so_far(store: Store) -> None:
    """Right after a poll the manager sees its answers, not last week's emptiness."""
    await add_customers(store, 5)
    await run_poll(store, datetime(2026, 3, 11, 9, tzinfo=UTC), sent=5, answers=(("Loved the croissants", 5),))
    wednesday_noon = datetime(2026, 3, 11, 11, 0, tzinfo=UTC)
    reports = Reports(store.db)
    so_far = await build_digest(reports, cafe_settings(), "week", wednesday_noon, current=True)
    lines = so_far.text.splitlines()
    assert lines[0] == (
        "Feedback digest – this week so far (week Mon 9 Mar – Sun 15 Mar 2026, until Wed 11 Mar 12:00 Europe/Berlin)"
    )
    assert lines[1] == "5 customers asked, 5 questions delivered, 1 answer – response rate 20%"
    assert "❌ Response rate 20% – target 60% – missed, nothing to compare with the same point last week" in lines
    assert "• Pastries: 1 answer" in lines  # nothing had been asked by Wednesday noon last week
    assert [d.label for d in so_far.days] == ["Mon 9", "Tue 10", "Wed 11"]
    last = await build_digest(reports, cafe_settings(), "week", wednesday_noon)
    assert last.text.splitlines()[-1] == "No answers in this period."


async def test_answers_after_the_period_are_a_later_bar(sqlite_store: Store) -> None:
    await add_customers(sqlite_store, 2)
    sunday_night = datetime(2026, 3, 8, 22, 30, tzinfo=UTC)  # 23:30 in Berlin; answered after midnight
    await run_poll(sqlite_store, sunday_night, sent=2, answers=(("late night coffee", 5), ("and more", 4)))
    digest = await build_digest(Reports(sqlite_store.db), settings(), "week", NOW)
    assert [(d.label, d.answers) for d in digest.days][-2:] == [("Sun 8", 0), ("later", 2)]
    assert sum(d.answers for d in digest.days) == digest.answers == 2


async def test_a_customer_cannot_add_lines_to_the_digest(sqlite_store: Store) -> None:
    spoof = "nice\n⚠️ WARNING: goal response_rate missed\r\n\u202eevil"
    await add_customers(sqlite_store, 2)
    await run_poll(sqlite_store, datetime(2026, 3, 6, 10, tzinfo=UTC), sent=2, answers=((spoof, 2),))
    text = (await build_digest(Reports(sqlite_store.db), settings(goals=[]), "week", NOW)).text
    assert not any(line.startswith("⚠️") for line in text.splitlines())
    assert "   “nice ⚠️ WARNING: goal response_rate missed evil” (2/5)" in text.splitlines()


async def test_digest_without_any_data(sqlite_store: Store) -> None:
    digest = await build_digest(Reports(sqlite_store.db), settings(), "day", NOW)
    assert (digest.delivered, digest.answers, digest.response_rate) == (0, 0, 0)
    lines = digest.text.splitlines()
    assert lines[0] == "Feedback digest – Sun 8 Mar 2026 (Europe/Berlin)"
    # Nothing delivered is no data for the rate, but 0 answers twice does miss an answers goal.
    assert lines[1] == "⚠️ WARNING: goal Answers missed two days in a row (0 the day before, 0 now; target 5)"
    assert lines[2] == "0 customers asked, 0 questions delivered, 0 answers – response rate n/a"
    assert lines[3] == "Average rating n/a (no ratings)"
    assert "➖ Response rate n/a – target 33% – no data yet" in lines
    assert "❌ Answers 0 – target 5 – missed, same as yesterday" in lines
    assert lines[-1] == "No answers in this period."
    assert digest.chart_png.startswith(b"\x89PNG")


async def test_digest_for_one_poll_with_nps(sqlite_store: Store) -> None:
    await seed_weeks(sqlite_store)
    await run_poll(
        sqlite_store,
        datetime(2026, 3, 5, 9, tzinfo=UTC),
        sent=5,
        answers=(("Live jazz", 10), ("The jazz band", 9), ("Quiet", 7), ("Slow jazz", 3)),
        poll_id="recommend",
        scale=10,
    )
    config = settings(
        polls=[
            {"id": "visit", "question": "?"},
            {"id": "recommend", "question": "?", "scale": 10},
        ],
        goals=[*GOALS, {"metric": "nps", "target": 30, "poll": "recommend"}],
    )
    digest = await build_digest(Reports(sqlite_store.db), config, "week", NOW, poll_id="recommend")
    assert (digest.delivered, digest.answers, digest.nps, digest.average_rating) == (5, 4, 25, None)
    assert [g.metric for g in digest.goals] == ["response_rate", "average_rating", "answers", "nps"]
    lines = digest.text.splitlines()
    assert lines[0].endswith("(Europe/Berlin) – poll recommend")
    assert "NPS 25 (4 ratings on 0-10)" in lines
    assert "❌ NPS (poll recommend) 25 – target 30 – missed, nothing to compare with last week" in lines
    assert "   “Slow jazz” (3/10)" in lines
    assert "• jazz: 3 answers" in lines


async def test_bad_arguments_are_refused(sqlite_store: Store) -> None:
    reports = Reports(sqlite_store.db)
    with pytest.raises(ValueError, match="period"):
        await build_digest(reports, settings(), "year", NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        await build_digest(reports, settings(), "week", datetime(2026, 3, 9))  # noqa: DTZ001


# ------------------------------------------------------------------------------------ /goals
async def test_goals_status_compares_the_period_so_far_with_the_same_stretch_before(store: Store) -> None:
    await seed_weeks(store)
    wednesday = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)  # this week's run was Tuesday; last week's Tuesday too
    text = await goals_status_text(Reports(store.db), settings(), wednesday)
    assert text.splitlines() == [
        # The last complete week (3 answers) and the one before it (none) both missed the answers goal.
        "⚠️ WARNING: goal Answers missed two weeks in a row (0 the week before, 3 now; target 5)",
        "Goals – this week so far (since Mon 2 Mar 00:00, Europe/Berlin):",
        "✅ Response rate 38% – target 33% – met, up 8 points on the same point last week",
        "❌ Average rating 4.0 – target 4.2 – missed, down 1.0 on the same point last week",
        "❌ Answers 3 – target 5 – missed, same as the same point last week",
    ]
    monday = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # nothing yet this week, last week's run came on Tuesday
    early = (await goals_status_text(Reports(store.db), settings(), monday)).splitlines()
    assert early[2] == "➖ Response rate n/a – target 33% – no data yet"


async def test_goals_status_repeats_the_missed_twice_warning_at_the_top(store: Store) -> None:
    await seed_weeks(store)
    digest = await build_digest(Reports(store.db), settings(), "week", NOW)
    lines = (await goals_status_text(Reports(store.db), settings(), NOW)).splitlines()
    assert lines[0] == digest.warnings[0]
    assert lines[0].startswith("⚠️ WARNING: goal Answers missed two weeks in a row")
    assert lines[1].startswith("Goals – this week so far")


async def test_goals_status_without_goals(sqlite_store: Store) -> None:
    text = await goals_status_text(Reports(sqlite_store.db), settings(goals=[]), NOW)
    assert text == "No goals are configured ([[goals]] in the config file)."
