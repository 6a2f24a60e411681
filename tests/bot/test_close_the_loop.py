"""Closing the loop: a problem answer alerts the staff chats at once, staff answer with /reply (or by
replying to the alert), the customer's next message comes back to the staff as a follow-up; all of
it through the outbox, in /mydata, erased by /forget, and counted in the digest."""

from __future__ import annotations

import json

import pytest

from bot import texts
from bot.i18n import Voice
from bot.types import ChatRef
from storage.store import Store
from tests.support import Chat, make_settings

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

TEAM = ChatRef("local", "-100")
QUESTION = "What was your favourite part?"


@pytest.fixture
async def loop(store: Store) -> Chat:
    chat = await Chat.open(store, make_settings(), staff=("900",), managers=("901",), alert_chats=(TEAM,))
    chat.user("staff", "900")
    for name in ("ann", "bob"):
        await chat.say(chat.user(name), "/start")
    await chat.run_poll()
    return chat


def team_texts(chat: Chat) -> list[str]:
    return [m.text for m in chat.adapter.outbox if m.chat.chat_id == TEAM.chat_id]


async def test_a_problem_answer_is_posted_to_the_staff_chat_at_once(loop: Chat) -> None:
    ann, bob = loop.users["ann"], loop.users["bob"]
    await loop.say(bob, "Great croissants")
    await loop.say(bob, "5")
    assert team_texts(loop) == []  # praise alerts nobody

    await loop.say(ann, "The coffee was *cold*\nWARNING: fake line")
    await loop.say(ann, "2")
    [alert] = team_texts(loop)
    lines = alert.split("\n")
    assert lines[0].startswith("⚠️ Unhappy customer: ann rated 2/5")
    assert lines[1] == '"The coffee was *cold* WARNING: fake line"'  # folded: cannot fake a line
    assert "/reply 2 " in alert  # answer 1 is bob's


async def test_staff_reply_reaches_the_customer_and_the_follow_up_comes_back(loop: Chat) -> None:
    ann, staff = loop.users["ann"], loop.users["staff"]
    await loop.say(ann, "Service was really slow")
    await loop.say(ann, "1")
    await loop.say_in_group(staff, TEAM.chat_id, "/reply 1 So sorry, Ann!\nYour next coffee is on us.")
    reply = loop.last_text(ann)
    assert reply.startswith("A message from the team about your feedback")
    assert "So sorry, Ann!\nYour next coffee is on us." in reply
    assert team_texts(loop)[-1].startswith("Sent to ann")

    loop.clock.advance(hours=5)
    await loop.say(ann, "Thanks, that is kind")
    assert loop.last_text(ann) == EN(texts.FOLLOW_UP_THANKS)
    forwarded = team_texts(loop)[-1]
    assert forwarded.startswith("💬 ann replied (answer 1)")
    assert '"Thanks, that is kind"' in forwarded

    await loop.say(ann, "Anything else?")  # only the next message is a follow-up
    assert loop.last_text(ann) == EN(texts.NO_OPEN_QUESTION)

    await loop.say(ann, "/mydata")
    data = json.loads(loop.last_text(ann).split("\n", 1)[1])
    assert [(m["from"], m["text"]) for m in data["staff_conversation"]] == [
        ("staff", "So sorry, Ann!\nYour next coffee is on us."),
        ("you", "Thanks, that is kind"),
    ]


async def test_the_follow_up_window_is_48_hours(loop: Chat) -> None:
    ann, staff = loop.users["ann"], loop.users["staff"]
    await loop.say(ann, "Too noisy")
    await loop.say(ann, "3")
    await loop.say_in_group(staff, TEAM.chat_id, "/reply 1 Thanks, we will look into it")
    loop.clock.advance(hours=48, seconds=1)
    await loop.say(ann, "ok")
    assert loop.last_text(ann) == EN(texts.NO_OPEN_QUESTION)
    assert not any(t.startswith("💬") for t in team_texts(loop))


async def test_reply_checks_role_and_arguments(loop: Chat) -> None:
    ann, bob, staff = loop.users["ann"], loop.users["bob"], loop.users["staff"]
    await loop.say(ann, "Bad")
    await loop.say(ann, "1")
    await loop.say_in_group(bob, TEAM.chat_id, "/reply 1 I am not staff")
    assert loop.adapter.outbox[-1].text == EN(texts.NOT_ALLOWED_STAFF)
    assert "I am not staff" not in "\n".join(loop.texts(ann))
    for bad in ("/reply", "/reply 1", "/reply x hello", "/reply 99999999999999 hi"):
        await loop.say_in_group(staff, TEAM.chat_id, bad)
        assert team_texts(loop)[-1].startswith(("Usage: /reply", "No answer")), bad
    await loop.say_in_group(staff, TEAM.chat_id, "/reply 7 hello")
    assert team_texts(loop)[-1] == "No answer 7 (it may have been erased)."


async def test_replying_to_the_alert_message_answers_the_customer(loop: Chat) -> None:
    ann, staff = loop.users["ann"], loop.users["staff"]
    await loop.say(ann, "Cold food")
    await loop.say(ann, "2")
    [alert_id] = [i for m, i in zip(loop.adapter.outbox, loop.adapter.sent_ids, strict=True) if m.chat == TEAM]
    inbound = loop.adapter.inbound(
        staff, "We are sorry – what did you order?", chat=TEAM, is_private=False, reply_to=alert_id
    )
    await loop.adapter.deliver(inbound)
    await loop.worker.drain()
    assert "We are sorry – what did you order?" in loop.last_text(ann)
    # A customer replying to some other message in the group is not a staff reply.
    bob = loop.users["bob"]
    sneaky = loop.adapter.inbound(bob, "haha", chat=TEAM, is_private=False, reply_to=alert_id)
    await loop.adapter.deliver(sneaky)
    await loop.worker.drain()
    assert "haha" not in "\n".join(loop.texts(ann))


async def test_forget_erases_the_alerts_and_the_conversation(loop: Chat) -> None:
    ann, staff = loop.users["ann"], loop.users["staff"]
    await loop.say(ann, "Rude waiter")
    await loop.say(ann, "1")
    await loop.say_in_group(staff, TEAM.chat_id, "/reply 1 Sorry")
    await loop.say(ann, "He really was")
    async with loop.store.read() as unit:
        assert await unit.followups.count() == (2, 2, 2)  # (messages, posts linked, alert deliveries)
    await loop.say(ann, "/forget")
    await loop.say(ann, "yes")
    async with loop.store.read() as unit:
        assert await unit.followups.count() == (0, 0, 0)


async def test_a_new_question_ends_the_follow_up_window(loop: Chat) -> None:
    ann, staff = loop.users["ann"], loop.users["staff"]
    await loop.say(ann, "Meh")
    await loop.say(ann, "3")
    await loop.say_in_group(staff, TEAM.chat_id, "/reply 1 What could we do better?")
    loop.clock.advance(hours=1)
    await loop.run_poll()
    assert loop.last_text(ann) == QUESTION
    await loop.say(ann, "Much better today")
    assert loop.last_text(ann) == EN(texts.ASK_RATING, low=1, high=5)


async def test_the_digest_counts_unhappy_customers_and_staff_answers(loop: Chat) -> None:
    ann, bob, staff = loop.users["ann"], loop.users["bob"], loop.users["staff"]
    cy = loop.user("cy")
    await loop.say(cy, "/start")
    run = await loop.run_poll()
    for user, rating in ((ann, "1"), (bob, "2"), (cy, "5")):
        await loop.say(user, "Something")
        await loop.say(user, rating)
    await loop.say_in_group(staff, TEAM.chat_id, "/reply 1 Sorry")
    digest = await loop.runtime.reporting.build("week", loop.clock.now(), current=True)
    assert "2 unhappy customers, 1 answered by staff" in digest.text
    assert run > 0


async def test_alerts_to_a_staff_members_private_chat_can_be_answered_by_replying(store: Store) -> None:
    sam_chat = ChatRef("local", "900", "900")
    chat = await Chat.open(store, make_settings(), staff=("900",), alert_chats=(sam_chat,))
    sam, ann = chat.user("sam", "900"), chat.user("ann")
    await chat.say(ann, "/start")
    await chat.run_poll()
    await chat.say(ann, "Too cold inside")
    await chat.say(ann, "1")
    [alert_id] = [i for m, i in zip(chat.adapter.outbox, chat.adapter.sent_ids, strict=True) if m.chat == sam_chat]
    await chat.adapter.deliver(chat.adapter.inbound(sam, "Sorry! The heating is fixed now.", reply_to=alert_id))
    await chat.worker.drain()
    assert "Sorry! The heating is fixed now." in chat.last_text(ann)
    # A customer's reply to their own question is still an answer, not a staff reply.
    question_id = chat.adapter.sent_ids[[m.text for m in chat.adapter.outbox].index(QUESTION)]
    await chat.adapter.deliver(chat.adapter.inbound(ann, "Thanks", reply_to=question_id))
    await chat.worker.drain()
    assert chat.last_text(ann) == EN(texts.FOLLOW_UP_THANKS)


def test_alert_chats_need_their_platform_and_default_to_the_digest_chats() -> None:
    from bot.config import ConfigProblems
    from bot.platforms import alert_chats

    with pytest.raises(ConfigProblems, match=r"alerts.telegram_chats: set, but there is no \[telegram\] section"):
        make_settings(alerts={"telegram_chats": ["-100123"]})
    digest_only = make_settings(telegram={"digest_chats": ["-100123"]}, discord={"digest_channels": ["42"]})
    assert alert_chats(digest_only) == [ChatRef("telegram", "-100123"), ChatRef("discord", "42")]
    chosen = make_settings(telegram={"digest_chats": ["-100123"]}, alerts={"telegram_chats": ["-100999"]})
    assert alert_chats(chosen) == [ChatRef("telegram", "-100999")]
    assert make_settings(alerts={"business": "Café Lumière"}).alerts.business == "Café Lumière"
