"""[engine] min_days_between_questions: a customer asked within that many days is skipped by a run,
and the skip is counted in /status and in the digest."""

from __future__ import annotations

from datetime import timedelta

from storage.store import Store
from tests.support import Chat, make_settings, run_counts

QUESTION = "What was your favourite part?"


async def test_a_customer_asked_recently_is_skipped_and_counted(store: Store) -> None:
    settings = make_settings({"engine": {"min_days_between_questions": 7}})
    chat = await Chat.open(store, settings, staff=("900",))
    ann, bob = chat.user("ann"), chat.user("bob")
    staff = chat.user("staff", "900")
    await chat.say(ann, "/start")
    first = await chat.run_poll()
    assert chat.last_text(ann) == QUESTION

    chat.clock.advance(days=3)
    await chat.say(bob, "/start")
    second = await chat.run_poll()
    assert chat.texts(ann).count(QUESTION) == 1  # asked 3 days ago: spared
    assert chat.last_text(bob) == QUESTION
    counts = await run_counts(chat.store, second)
    assert (counts.asked, counts.asked_recently) == (1, 1)
    assert (await run_counts(chat.store, first)).asked_recently == 0

    await chat.say(staff, f"/status {second}")
    assert "skipped: asked recently 1" in chat.last_text(staff)
    digest = await chat.runtime.reporting.build("week", chat.clock.now(), current=True)
    assert "(skipped: asked recently 1)" in digest.text.splitlines()[1]

    chat.clock.advance(days=4, seconds=1)  # a week after ann was asked: she is asked again, bob not
    third = await chat.run_poll()
    assert chat.texts(ann).count(QUESTION) == 2 and chat.texts(bob).count(QUESTION) == 1
    assert (await run_counts(chat.store, third)).asked_recently == 1


async def test_off_by_default(store: Store) -> None:
    chat = await Chat.open(store, make_settings())
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    await chat.run_poll()
    chat.clock.advance(timedelta(minutes=5))
    run = await chat.run_poll()
    assert chat.texts(ann).count(QUESTION) == 2
    assert (await run_counts(chat.store, run)).asked_recently == 0
