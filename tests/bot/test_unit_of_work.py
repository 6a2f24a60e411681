"""One inbound message is one unit of work: dedupe claim, effects and replies commit together.

Odd and failing input is answered or set aside, never retried forever in front of everyone else.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from adapters.local import LocalUser
from bot import texts
from bot.commands import CommandContext, CommandSpec, Place, default_registry
from bot.effects import Decision
from bot.i18n import Voice
from bot.roles import Role
from bot.runtime.app import build_runtime
from bot.runtime.deadletters import list_dead_letters
from storage.db import make_engine
from storage.models import DeadLetterStatus
from storage.store import Store
from tests.support import Chat, FakeClock, find_customer, latest_run, make_settings, run_counts, stored_answers

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

QUESTION = "What was your favourite part?"


class Boom(RuntimeError):
    """A bug in a handler."""


async def explode(ctx: CommandContext) -> Decision:
    raise Boom("the handler has a bug")


BOOM = CommandSpec("boom", Role.CUSTOMER, Place.ANYWHERE, help="fails", menu="fails", handler=explode)


# ---------------------------------------------------------------------------------------- one /poll, one run
async def test_the_same_poll_update_handled_twice_makes_one_run(store: Store) -> None:
    chat = await Chat.open(store, staff=("900",))
    for name in ("ann", "bob"):
        await chat.say(chat.user(name), "/start")
    staff = chat.user("sam", "900")
    poll = chat.adapter.inbound(staff, "/poll visit")
    first = await chat.adapter.deliver(poll)
    again = await chat.adapter.deliver(poll)  # redelivered after a lost acknowledgement
    assert (first.duplicate, again.duplicate) == (False, True)
    await chat.worker.drain()
    run = await latest_run(store)
    assert run is not None and run.id == 1
    assert [m.text for m in chat.adapter.outbox].count(QUESTION) == 2  # ann and bob, once each
    assert len([m for m in chat.adapter.received(staff) if m.text.startswith("Poll 'visit' started")]) == 1


async def test_the_same_poll_update_in_two_processes_at_once_makes_one_run(store: Store, tmp_path: object) -> None:
    """Two runtimes, each with its own connection pool, as two processes would have."""
    settings = make_settings()
    chat = await Chat.open(store, settings, staff=("900",))
    await chat.say(chat.user("ann"), "/start")
    other_store = Store(make_engine(store.db.url.render_as_string(hide_password=False)))  # a second pool
    other = build_runtime(settings, adapters=[chat.adapter], store=other_store, roles=chat.engine.roles)
    poll = chat.adapter.inbound(chat.user("sam", "900"), "/poll visit")
    results = await asyncio.gather(chat.engine.on_message(poll), other.engine.on_message(poll))
    assert sorted(r.duplicate for r in results) == [False, True]
    run = await latest_run(store)
    assert run is not None and run.id == 1
    assert (await run_counts(store, 1)).asked == 1
    await other_store.dispose()


# ---------------------------------------------------------------------------------------- odd input
async def test_odd_input_is_validated_at_the_edge(store: Store) -> None:
    """A run id no integer column holds, a language tag longer than its column: answered, stored."""
    chat = await Chat.open(store, staff=("900",))
    staff = chat.user("sam", "900")
    await chat.say(staff, "/status 99999999999999999999")
    assert chat.last_text(staff) == "No such run."
    newcomer = chat.user("nia")
    await chat.adapter.deliver(chat.adapter.inbound(newcomer, "/start", language="x-" + "long" * 10))
    await chat.worker.drain()
    assert "You're subscribed" in chat.last_text(newcomer)
    customer = await find_customer(store, "local", newcomer.user_id)
    assert customer is not None and customer.language == ("x-" + "long" * 10)[:16]


async def test_a_handler_that_fails_is_retried_then_set_aside_with_an_apology(store: Store) -> None:
    chat = await Chat.open(store, registry=default_registry().with_commands(BOOM))
    ann, bob = chat.user("ann"), chat.user("bob")
    await chat.say(ann, "/start")
    handled = await chat.adapter.deliver(chat.adapter.inbound(ann, "/boom"))
    assert handled.dead_lettered
    attempts = [i for i in chat.adapter.deliveries if i.text == "/boom"]
    assert len(attempts) == 3  # twice deferred (not acknowledged), then set aside and acknowledged
    await chat.worker.drain()
    assert chat.last_text(ann) == EN(texts.ERROR)
    async with store.read() as unit:
        [letter] = await unit.inbound.dead_letters()
    assert letter.status == DeadLetterStatus.DEAD and letter.attempts == 3 and "Boom" in letter.error
    assert json.loads(letter.inbound)["text"] == "/boom"
    # The poison is acknowledged: a redelivery is a duplicate, and everyone else carries on.
    assert (await chat.adapter.deliver(chat.adapter.inbound(ann, "/boom", message_id=letter.message_id))).duplicate
    await chat.say(bob, "/start")
    assert "You're subscribed" in chat.last_text(bob)


async def test_a_dead_letter_is_replayed_once_the_bug_is_fixed(sqlite_store: Store, tmp_path: object) -> None:
    broken = await Chat.open(sqlite_store, registry=default_registry().with_commands(BOOM))
    ann = broken.user("ann")
    await broken.adapter.deliver(broken.adapter.inbound(ann, "/boom"))
    listing = await _listing(sqlite_store)
    assert "failed 3x: " in listing and "Boom: the handler has a bug" in listing and "/boom" not in listing

    async def fixed_handler(ctx: CommandContext) -> Decision:
        return Decision.reply(ctx.reply("fixed now"))

    fixed = CommandSpec("boom", Role.CUSTOMER, Place.ANYWHERE, help="works", menu="works", handler=fixed_handler)
    chat = await Chat.open(sqlite_store, registry=default_registry().with_commands(fixed), adapter=broken.adapter)
    async with sqlite_store.read() as unit:
        [letter] = await unit.inbound.dead_letters()
    handled = await chat.engine.replay(letter.id)
    assert handled.replies == 1 and not handled.dead_lettered
    await chat.worker.drain()
    assert chat.last_text(ann) == "fixed now"
    assert await _listing(sqlite_store) == "no dead letters\n"


async def _listing(store: Store) -> str:
    import io

    from bot.config import settings_from_mapping

    out = io.StringIO()
    async with store.read() as unit:
        url = unit.conn.engine.url.render_as_string(hide_password=False)
    await list_dead_letters(settings_from_mapping({"storage": {"url": url}}), out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------- replies in the outbox
async def test_a_reply_that_fails_for_now_is_retried_and_arrives(chat: Chat) -> None:
    ann = chat.user("ann")
    chat.adapter.failing[ann.user_id] = "network down"
    await chat.say(ann, "/start")
    assert chat.adapter.received(ann) == []  # committed, queued, not sent yet
    del chat.adapter.failing[ann.user_id]
    chat.clock.advance(seconds=31)
    await chat.worker.drain()
    assert "You're subscribed" in chat.last_text(ann)


async def test_replies_to_one_chat_go_in_order_and_before_questions(chat: Chat) -> None:
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    await chat.engine.start_run("visit", triggered_by="test")  # a question is queued ...
    await chat.adapter.say(ann, "/privacy")  # ... and then two replies, before anything is sent
    await chat.adapter.say(ann, "/help")
    await chat.worker.drain()
    texts_after = chat.texts(ann)[1:]
    assert texts_after[0].startswith("What is stored about you") and texts_after[1].startswith("I collect")
    assert texts_after[2] == QUESTION


# ---------------------------------------------------------------------------------------- message time
async def test_answers_are_timed_by_the_platform_not_by_when_we_handled_them(sqlite_store: Store) -> None:
    clock = FakeClock()
    chat = await Chat.open(sqlite_store, clock=clock)
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    await chat.run_poll()
    written = clock.now() + timedelta(days=2, hours=23)  # inside the 3 days the question is open ...
    clock.advance(days=3, hours=1)  # ... but handled after it closed (the bot was down)
    await chat.adapter.deliver(chat.adapter.inbound(ann, "Lovely garden", received_at=written))
    [answer] = await stored_answers(sqlite_store)
    assert (answer.answered_at, answer.late) == (written, False)


# ---------------------------------------------------------------------------------------- privacy in the same path
async def test_forget_erases_its_own_dedupe_claim_and_the_question_in_flight(chat: Chat) -> None:
    ann, bob = chat.user("ann"), chat.user("bob")
    for user in (ann, bob):
        await chat.say(user, "/start")
    await chat.engine.start_run("visit", triggered_by="test")
    async with chat.store.unit() as unit:  # a worker has ann's question in flight
        await unit.workers.register("other", "elsewhere", 1, chat.clock.now())
        claims = await unit.outbox.claim("other", ["local"], chat.clock.now(), 5)
    await chat.adapter.say(ann, "/forget")
    yes = await chat.adapter.press(ann, "forget:yes")
    async with chat.store.read() as unit:
        assert await unit.inbound.dead_letters() == []
        from storage.inbound import UpdateKey

        assert not await unit.inbound.seen(UpdateKey("local", ann.user_id, yes, "choice"))
        for claim in claims:  # the in-flight question to ann is gone, and its worker can record nothing
            if claim.chat_id == ann.user_id:
                assert not await unit.outbox.record_sent(claim, "late", chat.clock.now())
    assert await find_customer(chat.store, "local", ann.user_id) is None


async def test_typed_yes_answers_the_open_question_rather_than_confirming_forget(chat: Chat) -> None:
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    await chat.say(ann, "/forget")
    await chat.run_poll()
    await chat.say(ann, "yes")  # the question waits for an answer: this is it, not a confirmation
    assert [a.answer for a in await stored_answers(chat.store)] == ["yes"]
    assert await find_customer(chat.store, "local", ann.user_id) is not None


async def test_mydata_shows_every_delivery_field(chat: Chat) -> None:
    ann = chat.user("ann")
    await chat.say(ann, "/start")
    await chat.run_poll()
    await chat.say(ann, "/mydata")
    data = json.loads(chat.last_text(ann).split("\n", 1)[1])
    [question] = data["questions"]
    assert set(question) == {
        "poll",
        "run",
        "kind",
        "status",
        "attempts",
        "error",
        "message_id",
        "queued_at",
        "sent_at",
        "reminded_at",
    }
    assert (question["status"], question["attempts"]) == ("sent", 1) and question["message_id"]
    assert [m["kind"] for m in data["messages"]][:1] == ["reply"]  # the welcome
    assert data["customer"]["waiting_for_rating_of_answer"] is None


@pytest.mark.parametrize("text", ["\x00", "🙂" * 5000, "/" + "x" * 40, "/status\x00 1"])
async def test_odd_messages_are_answered_and_nothing_stalls(chat: Chat, text: str) -> None:
    ann, bob = chat.user("ann"), chat.user("bob")
    await chat.say(ann, "/start")
    await chat.adapter.deliver(chat.adapter.inbound(ann, text))
    await chat.say(bob, "/start")
    assert "You're subscribed" in chat.last_text(bob)


async def test_the_next_customer_is_served_while_a_poison_update_is_retried(store: Store) -> None:
    chat = await Chat.open(store, registry=default_registry().with_commands(BOOM))
    ann, bob = chat.user("ann"), LocalUser("777", "bob")
    chat.adapter.redelivery_pause = 0.3  # the poison update comes back slowly
    poison = asyncio.create_task(chat.adapter.deliver(chat.adapter.inbound(ann, "/boom")))
    await asyncio.sleep(0.05)
    await chat.adapter.say(bob, "/start")  # handled at once, not after the poison
    assert not poison.done()
    await chat.worker.drain()
    assert "You're subscribed" in chat.adapter.last(bob).text
    assert (await poison).dead_lettered
