"""Hostile and odd input: never a crash, never another customer's data lost or corrupted."""

from __future__ import annotations

import asyncio

from bot import texts
from bot.i18n import Voice
from storage.store import Store
from tests.support import Chat, find_customer, stored_answers

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them


async def stored(store: Store) -> dict[str, tuple[str, int | None]]:
    return {r.user: (r.answer, r.rating) for r in await stored_answers(store)}


async def test_text_at_the_limit_is_kept_whole_and_longer_is_refused(chat: Chat) -> None:
    ann, ben = chat.user("ann"), chat.user("ben")
    for u in (ann, ben):
        await chat.say(u, "/start")
    await chat.run_poll()
    exact = "é" * texts.MAX_ANSWER_CHARS
    await chat.say(ann, exact)
    await chat.say(ben, "x" * (texts.MAX_ANSWER_CHARS + 1))
    assert chat.last_text(ben) == EN(texts.TOO_LONG, length="4,097", limit="4,096")
    assert (await stored(chat.store)) == {ann.user_id: (exact, None)}
    await chat.say(ben, "short and sweet")  # the question is still open after a refusal
    assert (await stored(chat.store))[ben.user_id] == ("short and sweet", None)


async def test_emoji_rtl_and_nul_round_trip(store: Store) -> None:
    chat = await Chat.open(store)
    cat = chat.user("cat")
    await chat.say(cat, "/start")
    await chat.run_poll()
    await chat.say(cat, "שלום 👋🏽\x00 مرحبا\u200f — 🇬🇧 ok")
    assert (await stored(store))[cat.user_id][0] == "שלום 👋🏽 مرحبا\u200f — 🇬🇧 ok"


async def test_nul_in_names_and_commands_is_harmless(store: Store) -> None:
    chat = await Chat.open(store)
    user = chat.user("nul\x00name")
    await chat.say(user, "/start\x00")
    customer = await find_customer(store, "local", user.user_id)
    assert customer is not None and customer.display_name == "nulname"


async def test_duplicate_update_is_stored_once_and_answered_once(chat: Chat) -> None:
    dee = chat.user("dee")
    await chat.say(dee, "/start")
    await chat.run_poll()
    before = len(chat.adapter.received(dee))
    await chat.say(dee, "The pool", message_id="777")
    await chat.say(dee, "The pool", message_id="777")  # the platform re-delivered it
    assert len(chat.adapter.received(dee)) == before + 1
    assert (await stored(chat.store)) == {dee.user_id: ("The pool", None)}


async def test_edited_answer_updates_the_row(chat: Chat) -> None:
    eve = chat.user("eve")
    await chat.say(eve, "/start")
    await chat.run_poll()
    message_id = await chat.say(eve, "The spa, tpyo")
    await chat.edit(eve, message_id, "The spa")
    await chat.edit(eve, message_id, "The spa!")
    assert (await stored(chat.store))[eve.user_id] == ("The spa!", None)
    await chat.edit(eve, message_id, "")  # an edit to nothing keeps the answer
    assert (await stored(chat.store))[eve.user_id] == ("The spa!", None)


async def test_edit_of_a_non_answer_changes_nothing(chat: Chat) -> None:
    fay = chat.user("fay")
    message_id = await chat.say(fay, "/start")
    await chat.edit(fay, message_id, "/forget")
    assert await find_customer(chat.store, "local", fay.user_id) is not None


async def test_odd_messages_never_crash(chat: Chat) -> None:
    gus = chat.user("gus")
    await chat.say(gus, "/start")
    await chat.run_poll()
    for text in ["", "   ", "/", "//", "/start " + "x" * 5000, "/poll", "\x00", "🙂" * 3000, "/mydata extra args"]:
        await chat.say(gus, text)
    await chat.press(gus, "rate:not-a-number:5")
    await chat.press(gus, "garbage")
    await chat.press(gus, "rate:999:3")
    await chat.answer_with(gus, "targeted at nothing", "answer:abc")
    # The engine kept going: the open question still takes an answer.
    assert gus.user_id in await stored(chat.store)


async def test_many_customers_at_once_lose_nothing(chat: Chat) -> None:
    users = [chat.user(f"u{i}") for i in range(40)]
    await asyncio.gather(*(chat.say(u, "/start") for u in users))
    await chat.run_poll()
    await asyncio.gather(*(chat.say(u, f"answer from {u.name}") for u in users))
    await asyncio.gather(*(chat.say(u, "3") for u in users))
    result = await stored(chat.store)
    assert result == {u.user_id: (f"answer from {u.name}", 3) for u in users}


async def test_burst_from_one_customer_stores_the_first_as_answer(chat: Chat) -> None:
    hal = chat.user("hal")
    await chat.say(hal, "/start")
    await chat.run_poll()
    await asyncio.gather(*(chat.say(hal, f"msg {i}") for i in range(5)))
    answer, rating = (await stored(chat.store))[hal.user_id]
    assert answer.startswith("msg ")
    assert rating is None  # the rest are no digits: they get "please choose 1 to 5", not stored
    assert len(await stored(chat.store)) == 1
    assert chat.last_text(hal) == EN(texts.RATING_AGAIN, low=1, high=5)
