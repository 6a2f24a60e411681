"""/pause [weeks]: no questions for a while, /start resumes early, runs skip and /status counts them."""

from __future__ import annotations

import json
from datetime import timedelta

from bot import texts
from bot.i18n import Voice
from storage.store import Store
from tests.support import Chat, find_customer, run_counts

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

QUESTION = "What was your favourite part?"


async def test_paused_customer_is_skipped_and_counted_until_the_pause_ends(chat: Chat) -> None:
    ann, bob = chat.user("ann"), chat.user("bob")
    for user in (ann, bob):
        await chat.say(user, "/start")
    await chat.say(ann, "/pause 2")
    assert chat.clock.now().date().isoformat() == "2026-03-02"
    assert chat.last_text(ann) == EN(texts.PAUSED, until="Monday, March 16, 2026")

    run = await chat.run_poll()
    assert QUESTION not in chat.texts(ann) and chat.last_text(bob) == QUESTION
    counts = await run_counts(chat.store, run)
    assert (counts.asked, counts.paused) == (1, 1)

    chat.clock.advance(weeks=2, seconds=1)  # the pause is over by itself
    await chat.run_poll()
    assert chat.last_text(ann) == QUESTION


async def test_default_is_four_weeks_and_start_resumes_early(chat: Chat) -> None:
    cy = chat.user("cy")
    await chat.say(cy, "/start")
    await chat.say(cy, "/pause")
    customer = await find_customer(chat.store, "local", cy.user_id)
    assert customer is not None and customer.paused_until == chat.clock.now() + timedelta(weeks=4)
    await chat.say(cy, "/start")
    assert chat.last_text(cy) == EN(texts.RESUMED)
    customer = await find_customer(chat.store, "local", cy.user_id)
    assert customer is not None and customer.paused_until is None
    await chat.run_poll()
    assert chat.last_text(cy) == QUESTION


async def test_mydata_shows_the_pause_and_bad_arguments_get_the_usage(sqlite_store: Store) -> None:
    chat = await Chat.open(sqlite_store)
    dee = chat.user("dee")
    await chat.say(dee, "/pause")
    assert chat.last_text(dee) == EN(texts.NOT_SUBSCRIBED)
    await chat.say(dee, "/start")
    for bad in ("/pause 0", "/pause 13", "/pause two", "/pause 99999999999999999999", "/pause 2 3"):
        await chat.say(dee, bad)
        assert chat.last_text(dee) == EN(texts.PAUSE_USAGE), bad
    await chat.say(dee, "/pause 12")
    await chat.say(dee, "/mydata")
    data = json.loads(chat.last_text(dee).split("\n", 1)[1])
    assert data["customer"]["paused_until"] == (chat.clock.now() + timedelta(weeks=12)).isoformat()


async def test_pause_in_a_group_points_to_the_private_chat(chat: Chat) -> None:
    eve = chat.user("eve")
    await chat.say_in_group(eve, "-100", "/pause")
    assert chat.adapter.outbox[-1].text == EN(texts.GROUP_HINT, what="pause your questions")
