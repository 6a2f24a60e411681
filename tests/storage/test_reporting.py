"""Reporting queries against the hand-computed fixture of tests/reporting_seed.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from storage.reporting import Reports, local_days
from storage.store import Store
from tests.reporting_seed import (
    BERLIN,
    NEXT_WEEK,
    PREVIOUS_WEEK,
    WEEK,
    add_customers,
    run_poll,
    seed_weeks,
)


async def test_period_metrics_match_the_hand_computed_fixture(store: Store) -> None:
    await seed_weeks(store)
    reports = Reports(store.db)

    week = await reports.period_metrics(*WEEK)
    assert (week.asked, week.delivered, week.answers) == (10, 8, 3)
    assert week.response_rate == 37.5
    assert (week.ratings, week.rating_sum, week.average_rating) == (3, 12, 4.0)
    assert week.nps is None and week.nps_ratings == 0

    before = await reports.period_metrics(*PREVIOUS_WEEK)
    assert (before.asked, before.delivered, before.answers, before.average_rating) == (10, 10, 3, 5.0)

    # The run at Sun 23:30 UTC is Monday 00:30 in Berlin: the next week's, never this one's.
    after = await reports.period_metrics(*NEXT_WEEK)
    assert (after.delivered, after.answers, after.average_rating) == (10, 1, 2.0)


async def test_asked_counts_distinct_customers_across_runs(store: Store) -> None:
    await seed_weeks(store)
    both_weeks = await Reports(store.db).period_metrics(PREVIOUS_WEEK[0], WEEK[1])
    assert (both_weeks.asked, both_weeks.delivered, both_weeks.answers) == (10, 18, 6)


async def test_poll_filter_nps_and_scale_ten_ratings_kept_out_of_the_average(store: Store) -> None:
    seeded = await seed_weeks(store)
    vip = await add_customers(store, 5, tag="vip", first=100)
    assert len(vip) == 5
    await run_poll(
        store,
        datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
        sent=5,
        answers=(("Would tell friends", 10), ("Yes", 9), ("Sure", 9), ("Maybe", 7), ("No", 3)),
        poll_id="recommend",
        scale=10,
        tag="vip",
    )
    reports = Reports(store.db)
    recommend = await reports.period_metrics(*WEEK, poll_id="recommend")
    assert (recommend.asked, recommend.delivered, recommend.answers) == (5, 5, 5)
    assert (recommend.nps_ratings, recommend.promoters, recommend.detractors) == (5, 3, 1)
    assert recommend.nps == 40.0  # 60 % promoters - 20 % detractors
    assert recommend.average_rating is None

    everything = await reports.period_metrics(*WEEK)
    assert (everything.asked, everything.delivered, everything.answers) == (15, 13, 8)
    assert everything.average_rating == 4.0  # the 0-10 ratings stay out of the 1-5 average
    assert everything.nps == 40.0
    visit = await reports.period_metrics(*WEEK, poll_id="visit")
    assert (visit.asked, visit.delivered, visit.answers, visit.nps) == (10, 8, 3, None)
    assert seeded.run != seeded.previous_run


async def test_empty_period_has_zeros_and_no_rates(store: Store) -> None:
    empty = await Reports(store.db).period_metrics(*WEEK)
    assert (empty.asked, empty.delivered, empty.answers, empty.ratings) == (0, 0, 0, 0)
    assert empty.response_rate is None and empty.average_rating is None and empty.nps is None


async def test_arrivals_count_answers_by_the_local_day_they_arrived(store: Store) -> None:
    await add_customers(store, 4)
    # A run on Saturday 7 March (Berlin): answers 1 h, 1 h 1 min, ... later, and one on Monday.
    run = await run_poll(store, datetime(2026, 3, 7, 10, 0, tzinfo=UTC), sent=3, answers=(("a", 5), ("b", 3)))
    await run_poll(store, datetime(2026, 3, 8, 22, 30, tzinfo=UTC), sent=1, answers=(("c", 4),))
    assert run
    midnights = [datetime(2026, 3, d, 23, 0, tzinfo=UTC) for d in range(1, 9)]  # Mon 2 ... Mon 9, Berlin
    arrivals = await Reports(store.db).arrivals(*WEEK, midnights)
    by_day = {a.index: (a.answers, a.rated, a.rating_sum) for a in arrivals}
    assert by_day[5] == (2, 2, 8)  # Saturday
    # Sunday 22:30 UTC is Sunday 23:30 in Berlin; its answer an hour later is Monday's: "later".
    assert by_day[7] == (1, 1, 4)


async def test_delivery_counts_per_run_and_distinct_customers(store: Store) -> None:
    await seed_weeks(store)
    counts = await Reports(store.db).delivery_counts(PREVIOUS_WEEK[0], WEEK[1])
    assert (counts.customers, counts.questions, counts.delivered) == (10, 20, 18)
    assert sorted(r.delivered for r in counts.runs) == [8, 10]


def test_local_days_cover_a_dst_week() -> None:
    # Berlin springs forward on Sunday 29 March 2026: that week is 167 hours, still 7 local days.
    start = datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
    end = datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert list(local_days(start, end, BERLIN)) == [date(2026, 3, d) for d in range(23, 30)]
    assert list(local_days(end, start, BERLIN)) == []
