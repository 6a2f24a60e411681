"""The customer conversation, driven through the local adapter with a real database."""

from __future__ import annotations

import json
from datetime import timedelta

from bot import texts
from bot.i18n import Voice
from bot.types import FORGET_NO, FORGET_YES, InboundKind, rating_choice
from storage.store import Store
from tests.support import Chat, customer_tags, find_customer, make_settings, run_counts, stored_answers

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

# The customer's /help, word for word (built from the command registry).
HELP = (
    "I collect short feedback for the team behind this chat.\n"
    "\n"
    "/start – subscribe to the occasional question\n"
    "/stop – stop receiving questions\n"
    "/pause [weeks] – no questions for a few weeks\n"
    "/mydata – see everything stored about you\n"
    "/forget – erase everything stored about you\n"
    "/privacy – what is stored and why\n"
    "/help – this message"
)


async def answers(store: Store) -> list[tuple[str, str, int | None, bool]]:
    return [(r.user, r.answer, r.rating, r.late) for r in await stored_answers(store)]


async def test_start_question_answer_rating_thanks(chat: Chat) -> None:
    alice = chat.user("alice")
    await chat.say(alice, "/start")
    welcome = chat.last_text(alice)
    assert "What was your favourite part?" in welcome and "/stop" in welcome

    run_id = await chat.run_poll()
    question = chat.adapter.last(alice)
    assert question.text == "What was your favourite part?"
    assert question.question is not None and question.question.run_id == run_id

    await chat.say(alice, "The live music 🎶")
    ask = chat.adapter.last(alice)
    assert ask.text == EN(texts.ASK_RATING, low=1, high=5)
    assert [c.value for c in ask.choices] == [rating_choice(run_id, n) for n in range(1, 6)]

    await chat.press(alice, rating_choice(run_id, 5))
    assert chat.last_text(alice) == EN(texts.RATING_THANKS)
    assert await answers(chat.store) == [(alice.user_id, "The live music 🎶", 5, False)]


async def test_typed_digit_counts_as_rating(chat: Chat) -> None:
    bob = chat.user("bob")
    await chat.say(bob, "/start")
    await chat.run_poll()
    await chat.say(bob, "Friendly staff")
    await chat.say(bob, "4")
    assert chat.last_text(bob) == EN(texts.RATING_THANKS)
    assert await answers(chat.store) == [(bob.user_id, "Friendly staff", 4, False)]


async def test_poll_without_rating_thanks_at_once(sqlite_store: Store) -> None:
    settings = make_settings(polls=[{"id": "quick", "question": "Anything to add?", "rating": False}])
    chat = await Chat.open(sqlite_store, settings)
    carol = chat.user("carol")
    await chat.say(carol, "/start")
    await chat.run_poll("quick")
    await chat.say(carol, "All good")
    assert chat.last_text(carol) == EN(texts.THANKS)
    assert await answers(sqlite_store) == [(carol.user_id, "All good", None, False)]


async def test_rating_out_of_range_is_asked_again(chat: Chat) -> None:
    dan = chat.user("dan")
    await chat.say(dan, "/start")
    run_id = await chat.run_poll()
    await chat.say(dan, "Cake")
    await chat.say(dan, "9")
    assert chat.last_text(dan) == EN(texts.RATING_AGAIN, low=1, high=5)
    await chat.press(dan, rating_choice(run_id, 9))
    assert (await answers(chat.store))[0][2] is None


async def test_late_answer_is_kept_and_marked(chat: Chat) -> None:
    erin = chat.user("erin")
    await chat.say(erin, "/start")
    await chat.run_poll()
    chat.clock.advance(days=4)
    await chat.say(erin, "Sorry I'm late: the view")
    assert (await answers(chat.store))[0][3] is True


async def test_sticker_gets_a_request_for_words_and_is_not_stored(chat: Chat) -> None:
    finn = chat.user("finn")
    await chat.say(finn, "/start")
    await chat.run_poll()
    await chat.send_sticker(finn)
    assert chat.last_text(finn) == EN(texts.ASK_IN_WORDS)
    assert await answers(chat.store) == []
    await chat.say(finn, "Words now")
    assert [a[1] for a in await answers(chat.store)] == ["Words now"]


async def test_text_without_open_question(chat: Chat) -> None:
    gia = chat.user("gia")
    await chat.say(gia, "hello?")
    assert chat.last_text(gia) == EN(texts.NOT_SUBSCRIBED)
    await chat.say(gia, "/start")
    await chat.say(gia, "hello again")
    assert chat.last_text(gia) == EN(texts.NO_OPEN_QUESTION)


async def test_unknown_command_answers_with_help(chat: Chat) -> None:
    hal = chat.user("hal")
    await chat.say(hal, "/frobnicate now")
    assert chat.last_text(hal) == HELP
    await chat.say(hal, "/")
    assert chat.last_text(hal) == HELP


async def test_stop_means_no_more_questions(chat: Chat) -> None:
    ivy, jon = chat.user("ivy"), chat.user("jon")
    for user in (ivy, jon):
        await chat.say(user, "/start")
    await chat.say(ivy, "/stop")
    assert chat.last_text(ivy) == EN(texts.STOPPED)
    await chat.run_poll()
    assert chat.last_text(ivy) == EN(texts.STOPPED)  # no question arrived
    assert chat.last_text(jon) == "What was your favourite part?"
    await chat.say(ivy, "/start")
    await chat.run_poll()
    assert chat.last_text(ivy) == "What was your favourite part?"


async def test_start_with_tag_targets_tagged_runs(chat: Chat) -> None:
    kim, lee = chat.user("kim"), chat.user("lee")
    await chat.say(kim, "/start vip")
    await chat.say(lee, "/start")
    await chat.run_poll(tag="vip")
    assert chat.last_text(kim) == "What was your favourite part?"
    assert chat.last_text(lee) != "What was your favourite part?"
    assert await customer_tags(chat.store, (await find_customer(chat.store, "local", kim.user_id)).id) == ["vip"]  # type: ignore[union-attr]


async def test_bad_tag_subscribes_without_it(chat: Chat) -> None:
    max_ = chat.user("max")
    await chat.say(max_, "/start no/tags!allowed")
    assert EN(texts.BAD_TAG) in chat.last_text(max_)
    customer = await find_customer(chat.store, "local", max_.user_id)
    assert customer is not None and customer.subscribed


async def test_mydata_shows_everything_as_json(chat: Chat) -> None:
    ned = chat.user("ned")
    await chat.say(ned, "/start regulars")
    await chat.run_poll()
    await chat.say(ned, "The <b>garden</b>")
    await chat.say(ned, "5")
    await chat.say(ned, "/mydata")
    body = chat.last_text(ned).split("\n", 1)[1]
    data = json.loads(body)
    assert data["customer"]["tags"] == ["regulars"]
    assert data["answers"][0]["answer"] == "The <b>garden</b>"
    assert data["answers"][0]["rating"] == 5
    assert data["questions"][0]["status"] == "sent"


async def test_forget_needs_confirmation_then_erases(chat: Chat) -> None:
    oli, pam = chat.user("oli"), chat.user("pam")
    for user in (oli, pam):
        await chat.say(user, "/start")
    await chat.run_poll()
    await chat.say(oli, "Oli's answer")
    await chat.say(pam, "Pam's answer")
    await chat.say(oli, "/forget")
    assert [c.value for c in chat.adapter.last(oli).choices] == [FORGET_YES, FORGET_NO]
    await chat.press(oli, FORGET_NO)
    assert chat.last_text(oli) == EN(texts.FORGET_CANCELLED)
    assert len(await answers(chat.store)) == 2

    await chat.say(oli, "/forget")
    await chat.press(oli, FORGET_YES)
    assert chat.last_text(oli) == EN(texts.FORGET_DONE)
    assert await find_customer(chat.store, "local", oli.user_id) is None
    assert [a[1] for a in await answers(chat.store)] == ["Pam's answer"]


async def test_forget_confirmation_expires(chat: Chat) -> None:
    quin = chat.user("quin")
    await chat.say(quin, "/start")
    await chat.say(quin, "/forget")
    chat.clock.advance(minutes=11)
    await chat.press(quin, FORGET_YES)
    assert chat.last_text(quin) == EN(texts.FORGET_EXPIRED)
    assert await find_customer(chat.store, "local", quin.user_id) is not None


async def test_forget_can_be_confirmed_by_typing_yes(chat: Chat) -> None:
    rae = chat.user("rae")
    await chat.say(rae, "/start")
    await chat.say(rae, "/forget")
    await chat.say(rae, "yes")
    assert chat.last_text(rae) == EN(texts.FORGET_DONE)


async def test_forget_can_be_confirmed_or_declined_in_the_customers_language(chat: Chat) -> None:
    jonas, lea, ana = (
        chat.user("Jonas", language="de"),
        chat.user("Léa", language="fr"),
        chat.user("Ana", language="es"),
    )
    for user, word in ((jonas, "Ja"), (lea, "non"), (ana, "sí")):
        await chat.say(user, "/start")
        await chat.say(user, "/forget")
        await chat.say(user, word)
    assert chat.last_text(jonas) == Voice("de")(texts.FORGET_DONE)
    assert chat.last_text(lea) == "Rien n’a été effacé."
    assert chat.last_text(ana) == Voice("es")(texts.FORGET_DONE)
    assert await find_customer(chat.store, "local", lea.user_id) is not None


async def test_customer_commands_in_a_group_point_to_private_chat(chat: Chat) -> None:
    sam = chat.user("sam")
    await chat.say_in_group(sam, "-100", "/start")
    assert chat.adapter.outbox[-1].chat.chat_id == "-100"
    assert "privately" in chat.adapter.outbox[-1].text
    assert await find_customer(chat.store, "local", sam.user_id) is None
    await chat.say_in_group(sam, "-100", "just chatting")
    assert len(chat.adapter.outbox) == 1


async def test_answer_targeted_at_a_run_with_rating(chat: Chat) -> None:
    """Discord's modal submit: the text names its run and carries the rating."""
    tom = chat.user("tom")
    await chat.say(tom, "/start")
    run_id = await chat.run_poll()
    await chat.answer_with(tom, "Great coffee", f"answer:{run_id}:4")
    assert chat.last_text(tom) == EN(texts.THANKS)
    assert await answers(chat.store) == [(tom.user_id, "Great coffee", 4, False)]
    await chat.answer_with(tom, "again", f"answer:{run_id}:5")
    assert chat.last_text(tom) == EN(texts.NO_OPEN_QUESTION)


async def test_reply_failure_marks_blocked_user_unreachable(chat: Chat) -> None:
    uma = chat.user("uma")
    await chat.say(uma, "/start")
    await chat.block(uma)
    customer = await find_customer(chat.store, "local", uma.user_id)
    assert customer is not None and not customer.reachable
    await chat.run_poll()
    assert chat.last_text(uma) != "What was your favourite part?"
    await chat.unblock(uma)
    customer = await find_customer(chat.store, "local", uma.user_id)
    assert customer is not None and customer.reachable and customer.unreachable_reason is None


async def test_question_closed_before_sending_is_skipped(chat: Chat) -> None:
    vic = chat.user("vic")
    await chat.say(vic, "/start")
    started = await chat.engine.start_run("visit", triggered_by="test")
    assert started is not None
    chat.clock.advance(timedelta(days=3, seconds=1))
    await chat.worker.drain()
    counts = await run_counts(chat.store, started.run_id)
    assert (counts.sent, counts.failed) == (0, 1)


async def test_privacy_explains_what_is_stored_and_links_the_policy(sqlite_store: Store) -> None:
    settings = make_settings(engine={"privacy_url": "https://example.com/privacy"})
    chat = await Chat.open(sqlite_store, settings)
    wes = chat.user("wes")
    await chat.say(wes, "/privacy")
    reply = chat.last_text(wes)
    assert "your answers and ratings" in reply and "/forget" in reply
    assert reply.endswith("The full privacy policy: https://example.com/privacy")
    assert await find_customer(sqlite_store, "local", wes.user_id) is None  # asking stores nothing
    await chat.say_in_group(wes, "-1", "/privacy")
    assert chat.adapter.outbox[-1].chat.chat_id == "-1" and "/forget" in chat.adapter.outbox[-1].text


async def test_the_welcome_promises_the_scale_the_polls_use(sqlite_store: Store) -> None:
    cases = {
        "from 1 to 5": [{"id": "a", "question": "q", "scale": 5}],
        "from 0 to 10": [{"id": "a", "question": "q", "scale": 10}],
        "give it a rating": [{"id": "a", "question": "q"}, {"id": "b", "question": "q", "scale": 10}],
    }
    for i, (promise, polls) in enumerate(cases.items()):
        chat = await Chat.open(sqlite_store, make_settings(polls=polls))
        user = chat.user(f"u{i}", str(500 + i))
        await chat.say(user, "/start")
        assert promise in chat.last_text(user)
    chat = await Chat.open(sqlite_store, make_settings(polls=[{"id": "a", "question": "q", "rating": False}]))
    quiet = chat.user("q", "599")
    await chat.say(quiet, "/start")
    assert "rate it" not in chat.last_text(quiet) and "rating" not in chat.last_text(quiet)  # none promised


async def test_a_forwarded_message_is_not_an_answer(chat: Chat) -> None:
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    await chat.run_poll()
    await chat.adapter.deliver(chat.adapter.inbound(ann, "Someone else's review: 5 stars", forwarded=True))
    await chat.worker.drain()
    assert chat.last_text(ann) == EN(texts.OWN_WORDS)
    assert await stored_answers(chat.store) == []
    await chat.say(ann, "Loved the cake")  # the question is still open for their own words
    assert [a.answer for a in await stored_answers(chat.store)] == ["Loved the cake"]


async def test_a_photo_with_a_caption_answers_with_the_caption(chat: Chat) -> None:
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    await chat.run_poll()
    await chat.adapter.deliver(chat.adapter.inbound(ann, "The terrace at sunset", kind=InboundKind.MEDIA))
    await chat.worker.drain()
    assert chat.last_text(ann) == EN(texts.ASK_RATING, low=1, high=5)
    assert [a.answer for a in await stored_answers(chat.store)] == ["The terrace at sunset"]


async def test_an_album_gets_one_reply(store: Store) -> None:
    chat = await Chat.open(store)
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    await chat.run_poll()
    before = len(chat.texts(ann))
    captions = ["Our table", "", ""]
    for caption in captions:
        photo = chat.adapter.inbound(ann, caption, kind=InboundKind.MEDIA, media_group="album-1")
        await chat.adapter.deliver(photo)
    await chat.worker.drain()
    assert chat.texts(ann)[before:] == [EN(texts.ASK_RATING, low=1, high=5)]
    bare = [chat.adapter.inbound(ann, "", kind=InboundKind.MEDIA, media_group="album-2") for _ in range(3)]
    for photo in bare:
        await chat.adapter.deliver(photo)
    await chat.worker.drain()
    assert chat.texts(ann)[before + 1 :] == [EN(texts.ASK_IN_WORDS)]


async def test_a_bare_number_first_is_the_rating_and_the_words_are_asked_for(store: Store) -> None:
    chat = await Chat.open(store)
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    run_id = await chat.run_poll()
    await chat.say(ann, "4")
    assert chat.last_text(ann) == EN(texts.ASK_WORDS, rating=4)
    [stored] = await stored_answers(chat.store)
    assert (stored.answer, stored.rating) == ("", 4)
    await chat.say(ann, "The coffee was great")
    assert chat.last_text(ann) == EN(texts.THANKS)
    [stored] = await stored_answers(chat.store)
    assert (stored.answer, stored.rating) == ("The coffee was great", 4)
    counts = await run_counts(chat.store, run_id)
    assert (counts.answered, counts.rated) == (1, 1)
    await chat.say(ann, "and the cake")  # nothing open any more
    assert chat.last_text(ann) == EN(texts.NO_OPEN_QUESTION)


async def test_a_number_off_the_scale_is_an_answer_in_words(chat: Chat) -> None:
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    await chat.run_poll()
    await chat.say(ann, "42")
    assert chat.last_text(ann) == EN(texts.ASK_RATING, low=1, high=5)
    assert [(a.answer, a.rating) for a in await stored_answers(chat.store)] == [("42", None)]
