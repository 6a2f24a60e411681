"""Anonymous polls: answers are stored with no link to the customer (a pseudonym keyed by a salted hash
that goes when the run closes), duplicates are refused, the export and the alerts name nobody, and the
question says so."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import texts
from bot.i18n import Voice
from bot.reporting.export import export_answers
from bot.types import ChatRef, rating_choice
from storage import tables as t
from storage.reporting import Reports
from storage.store import Store
from tests.support import Chat, find_customer, make_settings

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

TEAM = ChatRef("local", "-100")
POLL = {"id": "mood", "question": "How was today?", "anonymous": True, "close_after": "2d", "remind_after": "1d"}


@pytest.fixture
async def anon(store: Store) -> Chat:
    chat = await Chat.open(store, make_settings({"polls": [POLL]}), staff=("900",), alert_chats=(TEAM,))
    chat.user("staff", "900")
    for name in ("ann", "bob", "cy"):
        await chat.say(chat.user(name), "/start")
    return chat


async def answer_rows(store: Store) -> list[tuple[int, str, str, str]]:
    """(answer's customer id, that row's platform, user id, source id) of every answer."""
    a, c = t.answer.c, t.customer.c
    async with store.read() as unit:
        rows = await unit.conn.execute(
            select(a.customer_id, c.platform, c.platform_user_id, a.source_message_id)
            .join(t.customer, c.id == a.customer_id)
            .order_by(a.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_answers_carry_no_link_to_the_customer_and_duplicates_are_refused(anon: Chat) -> None:
    ann, bob = anon.users["ann"], anon.users["bob"]
    run = await anon.run_poll("mood")
    assert anon.last_text(ann) == f"How was today?\n\n{EN(texts.ANONYMOUS_NOTE)}"
    await anon.say(ann, "Great day")
    await anon.press(ann, rating_choice(run, 5))
    await anon.say(ann, "And another thing")  # the question is answered: not a second answer
    assert anon.last_text(ann) == EN(texts.NO_OPEN_QUESTION)
    await anon.say(bob, "Too loud\nand crowded")
    await anon.say(bob, "2")

    real = {(await find_customer(anon.store, "local", u.user_id)).id for u in (ann, bob)}  # type: ignore[union-attr]
    rows = await answer_rows(anon.store)
    assert len(rows) == 2
    for customer_id, platform, user_id, source in rows:
        assert customer_id not in real and platform == "anonymous"
        assert ann.user_id not in user_id and bob.user_id not in user_id and source.startswith("anon:")
    async with anon.store.read() as unit:
        ratings = [r.rating for r in await unit.conversation.answers_after(0)]
    assert ratings == [5, 2]

    # The problem alert names nobody and offers no way to answer; /reply says why.
    [alert] = [m for m in anon.adapter.outbox if m.chat == TEAM]
    assert alert.text.startswith("⚠️ Unhappy customer (anonymous poll mood, answer 2): rated 2/5")
    assert "bob" not in alert.text and alert.answer_id is None
    await anon.say_in_group(anon.users["staff"], TEAM.chat_id, "/reply 2 sorry")
    assert anon.adapter.outbox[-1].text == EN(texts.REPLY_ANONYMOUS, answer_id=2)

    # /mydata shows no anonymous answer: nothing stored is linked to ann.
    await anon.say(ann, "/mydata")
    assert json.loads(anon.last_text(ann).split("\n", 1)[1])["answers"] == []

    out = io.StringIO()
    assert await export_answers(Reports(anon.store.db), out, "json") == 2
    for record in json.loads(out.getvalue()):
        assert (record["platform"], record["user"], record["display_name"], record["tags"]) == ("", "", "", [])


async def test_reminders_skip_who_answered_and_the_salt_goes_when_the_run_closes(anon: Chat) -> None:
    ann, bob = anon.users["ann"], anon.users["bob"]
    run = await anon.run_poll("mood")
    await anon.say(ann, "Fine")
    await anon.press(ann, rating_choice(run, 4))
    anon.clock.advance(days=1, seconds=1)
    await anon.runtime.scheduler.tick(anon.clock.now())
    await anon.worker.drain()
    assert anon.texts(bob)[-1].startswith("A gentle reminder")
    assert not any(text.startswith("A gentle reminder") for text in anon.texts(ann))

    before = await answer_rows(anon.store)
    anon.clock.advance(days=1)
    await anon.runtime.scheduler.tick(anon.clock.now())
    async with anon.store.read() as unit:
        closed = await unit.runs.get(run)
    assert closed is not None and closed.salt is None
    after = await answer_rows(anon.store)
    assert after[0][2] == f"closed-{after[0][0]}" != before[0][2]  # the hashed key is gone too
    await anon.say(bob, "Late but honest")
    assert anon.last_text(bob) == EN(texts.ANONYMOUS_CLOSED)
    assert len(await answer_rows(anon.store)) == 1


async def test_a_poll_without_anonymous_is_unchanged(store: Store) -> None:
    chat = await Chat.open(store, make_settings())
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    await chat.run_poll()
    assert chat.last_text(ann) == "What was your favourite part?"
    chat.clock.advance(timedelta(minutes=1))
    await chat.say(ann, "Nice")
    [(_, platform, user_id, _)] = await answer_rows(chat.store)
    assert (platform, user_id) == ("local", ann.user_id)
