"""The Telegram adapter end to end: fake Bot API server <-> real PTB Bot <-> adapter <-> engine <-> SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.telegram.client import TelegramAdapter
from adapters.telegram.limits import pace_rules
from bot import texts
from bot.adapter import Handled
from bot.commands import default_registry
from bot.customer_commands import mydata_json
from bot.errors import DeliveryError, PlatformGone, RecipientUnreachable, TryLater
from bot.i18n import Voice
from bot.pacing import LocalPacer
from bot.types import ChatRef, Choice, Image, Inbound, Outbound, rating_choice
from storage.store import Store
from tests.adapters.fake_telegram import FakeTelegram, FakeUser
from tests.adapters.telegram_harness import (
    CHART,
    MANAGER_ID,
    STAFF_ID,
    TEAM_GROUP,
    TEST_RULES,
    FailsFirstCommit,
    FakeTime,
    TelegramWorld,
    open_world,
    ptb_timedelta,  # noqa: F401  (the fixture)
    running_world,
    telegram_settings,
)
from tests.support import customer_tags, find_customer, latest_run, make_settings

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them
DE = Voice("de")  # Alice's Telegram is in German (language_code "de")

ALICE = FakeUser(4242, "Alice", "Liddell", language_code="de")
ALICE_CHAT = ChatRef("telegram", str(ALICE.id), str(ALICE.id))


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def tg(fake_telegram: FakeTelegram, sqlite_store: Store) -> AsyncIterator[TelegramWorld]:
    world = await open_world(fake_telegram, sqlite_store)
    yield world
    await world.adapter.stop()


async def answers_of(tg: TelegramWorld, user: FakeUser) -> list[dict[str, Any]]:
    customer = await find_customer(tg.store, "telegram", str(user.id))
    assert customer is not None and customer.id is not None
    async with tg.store.read() as unit:
        data = await unit.customers.data(customer.id)
    assert data is not None
    return list(mydata_json(data)["answers"])


async def ask(tg: TelegramWorld, poll_id: str = "visit") -> int:
    started = await tg.engine.start_run(poll_id, triggered_by="test")
    assert started is not None
    await tg.worker.drain()
    return started.run_id


async def test_customer_flow_start_question_answer_rating_thanks(tg: TelegramWorld) -> None:
    fake = tg.fake
    await tg.say(ALICE, "/start")
    assert DE(texts.GREETING, name="Alice Liddell") in fake.last(ALICE.id).shown
    customer = await find_customer(tg.store, "telegram", str(ALICE.id))
    assert customer is not None
    assert (customer.chat_id, customer.display_name, customer.language) == ("4242", "Alice Liddell", "de")

    run_id = await ask(tg)
    assert fake.last(ALICE.id).shown == "What was your favourite part?"

    await tg.say(ALICE, "The staff were lovely")
    rating_request = fake.last(ALICE.id)
    assert rating_request.shown == DE(texts.ASK_RATING, low=1, high=5)
    assert rating_request.buttons == [(str(n), rating_choice(run_id, n)) for n in range(1, 6)]
    assert len(rating_request.reply_markup["inline_keyboard"]) == 1  # type: ignore[index]

    await tg.press(ALICE, rating_request, rating_choice(run_id, 5))
    assert fake.last(ALICE.id).shown == DE(texts.RATING_THANKS)
    assert fake.unanswered_callbacks() == []
    assert fake.messages(ALICE.id)[-2].reply_markup is None  # the used keyboard is gone
    with pytest.raises(AssertionError, match="no button"):
        fake.press(ALICE, rating_request, rating_choice(run_id, 4))

    [answer] = await answers_of(tg, ALICE)
    assert (answer["answer"], answer["rating"]) == ("The staff were lovely", 5)
    # Plain text only: no parse_mode, so customer text can never become markup.
    assert all("parse_mode" not in p for p in fake.calls_to("sendMessage"))
    # In a private chat replies are not quoted.
    assert all(m.reply_to is None for m in fake.messages(ALICE.id))


async def test_rating_scale_of_ten_gets_two_balanced_rows(fake_telegram: FakeTelegram, sqlite_store: Store) -> None:
    base = telegram_settings(fake_telegram)
    assert base.telegram is not None
    settings = make_settings(
        {"polls": [{"id": "nps", "question": "Would you recommend us?", "scale": 10}]},
        telegram=base.telegram.model_dump(),
    )
    async with running_world(fake_telegram, sqlite_store, settings) as world:
        await world.say(ALICE, "/start")
        await ask(world, "nps")
        await world.say(ALICE, "Yes")
        rows = fake_telegram.last(ALICE.id).reply_markup["inline_keyboard"]  # type: ignore[index]
        assert [len(r) for r in rows] == [6, 5]


async def test_duplicate_update_is_stored_once(tg: TelegramWorld) -> None:
    """The bot handled an update but Telegram never got the confirmation (the process stopped right
    after): the next process is handed the same update again. It is stored once and answered once."""
    await tg.say(ALICE, "/start")
    await ask(tg)
    fake = tg.fake
    fake.send_text(ALICE, "Great coffee")
    update = fake.pending_updates[-1]
    await fake.wait_confirmed()
    await tg.worker.drain()
    sent_before = len(fake.messages(ALICE.id))
    await tg.adapter.stop()
    fake.redeliver(update)
    await tg.restart()
    await fake.wait_confirmed()
    await tg.worker.drain()
    assert [a["answer"] for a in await answers_of(tg, ALICE)] == ["Great coffee"]
    assert len(fake.messages(ALICE.id)) == sent_before  # and no second reply


async def test_edited_answer_updates_the_stored_answer(tg: TelegramWorld) -> None:
    await tg.say(ALICE, "/start")
    await ask(tg)
    message_id = await tg.say(ALICE, "Great cofee")
    tg.fake.edit_text(ALICE, message_id, "Great coffee")
    await tg.fake.wait_confirmed()
    [answer] = await answers_of(tg, ALICE)
    assert answer["answer"] == "Great coffee" and answer["edited_at"] is not None


async def test_sticker_gets_a_request_for_words(tg: TelegramWorld) -> None:
    await tg.say(ALICE, "/start")
    tg.fake.send_sticker(ALICE)
    await tg.fake.wait_confirmed()
    await tg.worker.drain()
    assert tg.fake.last(ALICE.id).shown == DE(texts.ASK_IN_WORDS)


async def test_deep_link_start_payload_tags_the_customer(tg: TelegramWorld) -> None:
    await tg.say(ALICE, "/start@FeedbackTestBot spring-fair")
    customer = await find_customer(tg.store, "telegram", str(ALICE.id))
    assert customer is not None and customer.id is not None
    assert await customer_tags(tg.store, customer.id) == ["spring-fair"]


async def test_command_for_another_bot_is_ignored(tg: TelegramWorld) -> None:
    await tg.say(ALICE, "/help@SomeOtherBot")
    assert tg.fake.messages(ALICE.id) == []


async def test_forget_with_inline_yes_no(tg: TelegramWorld) -> None:
    await tg.say(ALICE, "/start")
    await tg.say(ALICE, "/forget")
    confirm = tg.fake.last(ALICE.id)
    assert confirm.shown == DE(texts.FORGET_CONFIRM)
    assert [d for _, d in confirm.buttons] == ["forget:yes", "forget:no"]
    await tg.press(ALICE, confirm, "forget:yes")
    assert tg.fake.last(ALICE.id).shown == DE(texts.FORGET_DONE)
    assert await find_customer(tg.store, "telegram", str(ALICE.id)) is None
    assert tg.fake.unanswered_callbacks() == []


async def test_long_text_is_split_on_line_boundaries_keyboard_on_last_part(tg: TelegramWorld) -> None:
    await tg.say(ALICE, "/start")
    lines = [f"line {i:04d} " + "x" * 90 for i in range(100)]  # about 10,000 characters
    chat = ChatRef("telegram", str(ALICE.id), str(ALICE.id))
    await tg.adapter.send(Outbound(chat=chat, text="\n".join(lines), choices=(Choice("OK", "ok"),)))
    parts = tg.fake.messages(ALICE.id)[1:]
    assert len(parts) == 3
    assert all(len(p.shown) <= 4096 for p in parts)
    assert "\n".join(p.shown for p in parts) == "\n".join(lines)
    assert [p.buttons for p in parts] == [[], [], [("OK", "ok")]]


async def test_429_waits_retry_after_then_succeeds(fake_telegram: FakeTelegram, sqlite_store: Store) -> None:
    """Real time here: Telegram says retry_after=1, and the reply goes out about one second later."""
    async with running_world(fake_telegram, sqlite_store) as world:  # a per-chat gap of 50 ms: the wait is the 429's
        await world.say(ALICE, "/start")
        await ask(world)
        fake_telegram.flood("sendMessage", retry_after=1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await world.say(ALICE, "Nice")
        waited = loop.time() - started
        assert 1.0 <= waited < 1.5, waited
        assert fake_telegram.last(ALICE.id).shown == DE(texts.ASK_RATING, low=1, high=5)
        assert len([p for p in fake_telegram.calls_to("sendMessage") if p["chat_id"] == str(ALICE.id)]) == 4


async def test_replies_to_one_chat_are_spaced_a_second_apart(sqlite_store: Store) -> None:
    """Real time and Telegram's real limits on both sides: the question waits for the welcome's second."""
    async with FakeTelegram() as fake, running_world(fake, sqlite_store, pacer=LocalPacer(pace_rules(25))) as world:
        loop = asyncio.get_running_loop()
        await world.say(ALICE, "/start")
        started = loop.time()
        await ask(world)
        assert 0.9 <= loop.time() - started < 1.4
        assert fake.too_many == []


async def test_persistent_429_becomes_a_temporary_delivery_error(sqlite_store: Store) -> None:
    time = FakeTime()  # the pacer's clock: its waits are recorded, not slept
    async with (
        FakeTelegram(limits=None) as fake,
        running_world(fake, sqlite_store, pacer=LocalPacer(TEST_RULES, clock=time, sleep=time.sleep)) as tg,
    ):
        await tg.say(ALICE, "/start")
        tg.fake.flood("sendMessage", retry_after=7, times=10)
        with pytest.raises(TryLater) as raised:
            await tg.adapter.send(Outbound(ChatRef("telegram", str(ALICE.id), str(ALICE.id)), "Hello"))
        assert raised.value.retry_after == 7
        # Four attempts; between them the adapter waited what Telegram asked (on the pacer's clock).
        assert len(tg.fake.calls_to("sendMessage")) == 1 + 4
        assert [s for s in time.sleeps if s >= 6.9] == [7.0] * 3


async def test_403_marks_the_customer_unreachable_with_the_reason(tg: TelegramWorld) -> None:
    bob = FakeUser(5151, "Bob")
    await tg.say(ALICE, "/start")
    await tg.say(bob, "/start")
    tg.fake.forbid(bob.id, "Forbidden: user is deactivated")
    await ask(tg)
    customer = await find_customer(tg.store, "telegram", str(bob.id))
    assert customer is not None
    assert (customer.reachable, customer.unreachable_reason) == (False, "telegram: Forbidden: user is deactivated")
    alice = await find_customer(tg.store, "telegram", str(ALICE.id))
    assert alice is not None and alice.reachable
    # Stops sending: the next poll does not try bob again.
    calls = len(tg.fake.calls_to("sendMessage"))
    await ask(tg)
    assert [p["chat_id"] for p in tg.fake.calls_to("sendMessage")[calls:]] == [str(ALICE.id)]


async def test_my_chat_member_blocked_and_unblocked(tg: TelegramWorld) -> None:
    await tg.say(ALICE, "/start")
    tg.fake.block(ALICE)
    await tg.fake.wait_confirmed()
    customer = await find_customer(tg.store, "telegram", str(ALICE.id))
    assert customer is not None and not customer.reachable
    assert customer.unreachable_reason == "user blocked the bot"
    tg.fake.unblock(ALICE)
    await tg.fake.wait_confirmed()
    customer = await find_customer(tg.store, "telegram", str(ALICE.id))
    assert customer is not None and customer.reachable


async def test_update_not_committed_is_redelivered_and_stored_once(tg: TelegramWorld) -> None:
    """on_message fails for the first attempt (the database went away): the offset stays, Telegram
    hands the update out again, and it is stored exactly once."""
    await tg.say(ALICE, "/start")
    await ask(tg)
    await tg.adapter.stop()
    flaky = FailsFirstCommit(tg.engine)
    await tg.restart(flaky)
    message_id = tg.fake.send_text(ALICE, "Loved it")
    await tg.fake.wait_confirmed()
    assert flaky.seen == [str(message_id), str(message_id)]
    assert [a["answer"] for a in await answers_of(tg, ALICE)] == ["Loved it"]


async def test_kill_between_receipt_and_commit_loses_nothing(tg: TelegramWorld) -> None:
    """The process dies while the engine handles an update: nothing was confirmed, so the next
    process gets the update again; if the first one had committed, it is still stored once."""
    await tg.say(ALICE, "/start")
    await ask(tg)
    await tg.adapter.stop()
    received = asyncio.Event()

    async def dies_after_commit(inbound: Inbound) -> Handled:
        await tg.engine.on_message(inbound)  # committed ...
        received.set()
        await asyncio.Event().wait()  # ... and the process hangs until killed before confirming
        return Handled()

    tg.adapter_options["stop_grace"] = 0.05
    await tg.restart(dies_after_commit)
    tg.fake.send_text(ALICE, "Loved it")
    await asyncio.wait_for(received.wait(), 5)
    await tg.adapter.stop()  # the kill: the update in hand never finished
    assert len(tg.fake.pending_updates) == 1

    await tg.restart()
    await tg.fake.wait_confirmed()
    assert [a["answer"] for a in await answers_of(tg, ALICE)] == ["Loved it"]


async def test_a_slow_update_does_not_hold_up_other_customers(tg: TelegramWorld) -> None:
    """One getUpdates batch: each sender's updates in order, different senders side by side; the offset
    moves only once everything before it is committed."""
    bob = FakeUser(5151, "Bob")
    await tg.adapter.stop()
    release = asyncio.Event()

    async def slow_for_alice(inbound: Inbound) -> Handled:
        if inbound.sender_id == str(ALICE.id):
            await release.wait()
        return await tg.engine.on_message(inbound)

    tg.fake.send_text(ALICE, "/start")
    tg.fake.send_text(bob, "/start")
    worker = asyncio.create_task(tg.worker.run_forever())  # replies leave as soon as they are queued
    try:
        await tg.restart(slow_for_alice)
        await tg.fake.until(lambda: tg.fake.messages(bob.id))
        assert tg.fake.messages(ALICE.id) == []
        assert len(tg.fake.pending_updates) == 2  # bob's is handled, but alice's comes first: nothing confirmed
        release.set()
        await tg.fake.wait_confirmed()
        await tg.fake.until(lambda: tg.fake.messages(ALICE.id))
        assert DE(texts.GREETING, name="Alice Liddell") in tg.fake.last(ALICE.id).shown
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


async def test_callback_is_answered_even_when_handling_fails(tg: TelegramWorld) -> None:
    await tg.say(ALICE, "/start")
    run_id = await ask(tg)
    await tg.say(ALICE, "Nice")
    rating_request = tg.fake.last(ALICE.id)
    await tg.adapter.stop()
    flaky = FailsFirstCommit(tg.engine)
    await tg.restart(flaky)
    await tg.press(ALICE, rating_request, rating_choice(run_id, 4))
    assert len(flaky.seen) == 2
    assert tg.fake.unanswered_callbacks() == []
    assert len(tg.fake.calls_to("answerCallbackQuery")) == 2  # the second one is refused by Telegram, harmlessly
    assert tg.fake.messages(ALICE.id)[-2].reply_markup is None  # removed off the ack path
    [answer] = await answers_of(tg, ALICE)
    assert answer["rating"] == 4


async def test_an_update_ptb_cannot_parse_is_skipped_not_fatal(
    tg: TelegramWorld, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tg.fake.push_update("message", {"message_id": 1, "text": "no chat, no date"})
    await tg.say(ALICE, "/start")
    assert DE(texts.GREETING, name="Alice Liddell") in tg.fake.last(ALICE.id).shown
    assert f"telegram update {bad} could not be parsed; skipped" in caplog.text


async def test_digest_longer_than_a_caption_sends_photo_then_text(tg: TelegramWorld) -> None:
    tg.fake.add_group(TEAM_GROUP)
    text = "\n".join(f"Theme {i}: mentioned {i} times" for i in range(80))
    assert len(text) > 1024
    await tg.adapter.send(Outbound(ChatRef("telegram", str(TEAM_GROUP)), text, image=Image("d.png", CHART)))
    photo, body = tg.fake.messages(TEAM_GROUP)
    assert (photo.method, photo.photo, photo.caption) == ("sendPhoto", CHART, None)
    assert body.text == text


async def test_unknown_group_is_a_permanent_error_and_stop_is_idempotent(tg: TelegramWorld) -> None:
    with pytest.raises(RecipientUnreachable) as raised:
        await tg.adapter.send(Outbound(ChatRef("telegram", "-100999"), "Digest"))
    assert raised.value.reason == "telegram: Chat not found"
    await tg.adapter.stop()
    await tg.adapter.stop()
    with pytest.raises(DeliveryError, match="not started"):
        await tg.adapter.send(Outbound(ALICE_CHAT, "hi"))


async def test_staff_poll_command_and_refusal_for_non_staff(tg: TelegramWorld) -> None:
    staff, bob = FakeUser(STAFF_ID, "Sam"), FakeUser(5151, "Bob")
    await tg.say(ALICE, "/start")
    await tg.say(bob, "/poll visit")
    assert tg.fake.last(bob.id).shown == EN(texts.NOT_ALLOWED_STAFF)
    assert await latest_run(tg.store) is None

    await tg.say(staff, "/poll@FeedbackTestBot visit")
    assert tg.fake.last(STAFF_ID).shown.startswith("Poll 'visit' started (run 1): 1 customer will be asked.")
    await tg.worker.drain()
    assert tg.fake.last(ALICE.id).shown == "What was your favourite part?"


async def test_manager_digest_in_team_group_comes_with_the_chart(tg: TelegramWorld) -> None:
    boss = FakeUser(MANAGER_ID, "Morgan")
    tg.fake.add_group(TEAM_GROUP)
    command_id = tg.fake.send_text(boss, "/digest@FeedbackTestBot week", group=TEAM_GROUP)
    await tg.fake.wait_confirmed()
    await tg.worker.drain()
    [digest] = tg.fake.messages(TEAM_GROUP)
    assert digest.method == "sendPhoto" and digest.photo == CHART
    assert digest.caption == "Digest for the week: 3 answers, average 4.3"
    assert digest.reply_to == command_id  # in a group the reply quotes the command

    bob = FakeUser(5151, "Bob")
    await tg.say(bob, "/digest")
    assert tg.fake.last(bob.id).shown == EN(texts.NOT_ALLOWED_MANAGERS)


async def test_group_chatter_is_ignored(tg: TelegramWorld) -> None:
    tg.fake.add_group(TEAM_GROUP)
    tg.fake.send_text(ALICE, "hello everyone", group=TEAM_GROUP)
    await tg.fake.wait_confirmed()
    await tg.worker.drain()
    assert tg.fake.messages(TEAM_GROUP) == []


async def test_command_menus_are_registered_per_scope(tg: TelegramWorld) -> None:
    commands = tg.fake.commands
    names = {key: [c["command"] for c in value] for key, value in commands.items()}
    assert names[("default", "")] == ["start", "stop", "pause", "mydata", "forget", "privacy", "help"]
    assert names[("all_group_chats", "")] == ["help"]
    # Staff and the manager never wrote to the bot yet: Telegram says "chat not found"...
    assert ("chat:900", "") not in names
    await tg.say(FakeUser(STAFF_ID, "Sam"), "/help")
    await tg.say(FakeUser(MANAGER_ID, "Morgan"), "/help")
    names = {key: [c["command"] for c in value] for key, value in tg.fake.commands.items()}
    # ... so their menus are set when they first do.
    assert names[("chat:900", "")][-3:] == ["polls", "status", "reply"]
    assert names[("chat:901", "")][-2:] == ["digest", "goals"]


async def test_team_group_menu_when_the_bot_is_in_the_group(fake_telegram: FakeTelegram, sqlite_store: Store) -> None:
    fake_telegram.add_group(TEAM_GROUP)
    async with running_world(fake_telegram, sqlite_store):
        menu = [c["command"] for c in fake_telegram.commands[(f"chat:{TEAM_GROUP}", "")]]
        assert menu == ["help", "poll", "polls", "status", "reply", "digest", "goals"]


async def test_token_never_reaches_the_logs(
    fake_telegram: FakeTelegram, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_world(fake_telegram, sqlite_store) as world:
        await world.say(ALICE, "/start")
        await ask(world)
        await world.say(ALICE, "Fine")
    assert any("Calling Bot API endpoint" in r.getMessage() for r in caplog.records)  # PTB logged at DEBUG
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert fake_telegram.token not in logged
    assert fake_telegram.token.split(":")[1] not in logged


async def test_rejected_token_ends_the_platform_without_the_token_in_sight(
    fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    settings = telegram_settings(fake_telegram)
    assert settings.telegram is not None
    adapter = TelegramAdapter(settings.telegram, "999:wrong-token-value")

    async def nothing(inbound: Inbound) -> Handled:
        return Handled()

    caplog.set_level(logging.DEBUG)
    with pytest.raises(PlatformGone, match="the Bot API rejected the token in TELEGRAM_BOT_TOKEN \\(401\\)") as raised:
        await adapter.start(nothing)
    assert "wrong-token-value" not in str(raised.value)
    assert "wrong-token-value" not in caplog.text
    await adapter.stop()  # never started: a no-op


async def test_a_poison_update_is_set_aside_while_the_next_customer_is_served(
    fake_telegram: FakeTelegram, sqlite_store: Store
) -> None:
    """An update whose handling fails with a bug is retried in its sender's lane, then set aside with
    an apology and confirmed; another customer's update in the same batch is handled meanwhile."""
    from tests.bot.test_unit_of_work import BOOM

    world = await open_world(fake_telegram, sqlite_store, registry=default_registry().with_commands(BOOM))
    bob = FakeUser(5151, "Bob")
    try:
        fake_telegram.send_text(ALICE, "/boom")
        fake_telegram.send_text(bob, "/start")  # right behind the poison, in the same getUpdates batch
        worker = asyncio.create_task(world.worker.run_forever())
        try:
            await fake_telegram.until(lambda: fake_telegram.messages(bob.id), within=5)
            assert fake_telegram.messages(ALICE.id) == []  # bob was served while alice's update was retried
            await fake_telegram.until(lambda: fake_telegram.messages(ALICE.id), within=10)
            assert fake_telegram.last(ALICE.id).shown == DE(texts.ERROR)
            await fake_telegram.wait_confirmed()  # the poison is acknowledged: polling is not stuck on it
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        async with world.store.read() as unit:
            [letter] = await unit.inbound.dead_letters()
        assert letter.attempts == 3 and letter.user_id == str(ALICE.id)
    finally:
        await world.adapter.stop()
