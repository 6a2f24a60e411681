"""The fake Bot API server refuses what Telegram refuses, so passing tests mean something."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken

from tests.adapters.fake_telegram import FakeTelegram, FakeUser

ALICE = FakeUser(4242, "Alice")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url) as client:
        yield client


async def test_token_and_method_are_checked(fake: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake.base_url}{fake.token}/sendCarrierPigeon") as response:
            assert (response.status, await response.json()) == (
                404,
                {"ok": False, "error_code": 404, "description": "Not Found"},
            )
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=fake.base_url):
            pass


async def test_message_limits(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(ALICE.id, "hello")
    fake.send_text(ALICE, "/start")
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(ALICE.id, "x" * 4097)
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(ALICE.id, "😀" * 2049)  # 4,098 UTF-16 units
    with pytest.raises(BadRequest, match="empty"):
        await bot.send_message(ALICE.id, "  ")
    too_long_data = InlineKeyboardMarkup([[InlineKeyboardButton("1", callback_data="x" * 65)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(ALICE.id, "rate", reply_markup=too_long_data)
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_photo(ALICE.id, b"png", caption="c" * 1025)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(-100999, "digest")
    sent = await bot.send_message(ALICE.id, "x" * 4096)
    assert fake.last(ALICE.id).text == sent.text


async def test_callback_queries_are_answered_once(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_text(ALICE, "/start")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("5", callback_data="rate:1:5")]])
    await bot.send_message(ALICE.id, "rate", reply_markup=keyboard)
    query_id = fake.press(ALICE, fake.last(ALICE.id), "rate:1:5")
    assert fake.unanswered_callbacks() == [query_id]
    await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    assert fake.unanswered_callbacks() == []


async def test_get_updates_offsets_and_webhook_conflict(fake: FakeTelegram, bot: Bot) -> None:
    first = fake.send_text(ALICE, "one")
    fake.send_text(ALICE, "two")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["one", "two"]
    assert len(await bot.get_updates(timeout=0)) == 2  # nothing confirmed yet
    assert [u.message.message_id for u in await bot.get_updates(offset=updates[0].update_id + 1) if u.message] == [
        first + 1
    ]
    assert len(fake.pending_updates) == 1
    await bot.set_webhook("https://example.test/hook", secret_token="abc")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)
    with pytest.raises(BadRequest, match="(?i)https url"):
        await bot.set_webhook("http://example.test/hook")


async def test_set_webhook_ports_and_max_connections_as_telegram_checks_them(fake: FakeTelegram, bot: Bot) -> None:
    for url in ("https://example.test:8080/hook", "https://example.test:444/hook"):
        with pytest.raises(BadRequest, match="ports 80, 88, 443 or 8443"):
            await bot.set_webhook(url)
    for port in (443, 80, 88, 8443):
        assert await bot.set_webhook(f"https://example.test:{port}/hook")
    for bad in (0, 101):
        with pytest.raises(BadRequest, match="max_connections"):
            await bot.set_webhook("https://example.test/hook", max_connections=bad)
    assert await bot.set_webhook("https://example.test/hook", max_connections=100)
    assert (await bot.get_webhook_info()).max_connections == 100


async def test_a_callback_query_expires(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_text(ALICE, "/start")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("5", callback_data="rate:1:5")]])
    await bot.send_message(ALICE.id, "rate", reply_markup=keyboard)
    query_id = fake.press(ALICE, fake.last(ALICE.id), "rate:1:5")
    fake.callback_lifetime = 0.0  # as if the bot answered long after the press
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id)


async def test_forwards_albums_and_anonymous_admins_look_like_telegram_s(fake: FakeTelegram, bot: Bot) -> None:
    critic = FakeUser(99, "Critic")
    fake.forward(ALICE, "Great place", origin=critic)
    fake.send_album(ALICE, 2, caption="Two views")
    fake.add_group(-100500)
    fake.send_anonymous(-100500, "/digest")
    forward, first, second, anonymous = [u.message for u in await bot.get_updates(timeout=0)]
    assert forward is not None and forward.forward_origin is not None
    assert forward.forward_origin.sender_user.id == critic.id  # type: ignore[union-attr]
    assert first is not None and second is not None
    assert first.media_group_id == second.media_group_id and first.caption == "Two views" and second.caption is None
    assert anonymous is not None and anonymous.from_user is not None and anonymous.from_user.is_bot
    assert anonymous.sender_chat is not None and anonymous.sender_chat.id == -100500


async def test_command_menus_are_kept_per_language_code_and_a_bad_code_is_refused(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("help", "What this bot does")])
    await bot.set_my_commands([BotCommand("help", "Was dieser Bot macht")], language_code="de")
    assert [c.description for c in await bot.get_my_commands()] == ["What this bot does"]
    assert [c.description for c in await bot.get_my_commands(language_code="de")] == ["Was dieser Bot macht"]
    assert await bot.get_my_commands(language_code="fr") == ()
    for bad in ("de-DE", "DE", "deu", "d"):
        with pytest.raises(BadRequest, match="(?i)lang_code_invalid"):
            await bot.set_my_commands([BotCommand("help", "x")], language_code=bad)
    await bot.delete_my_commands(language_code="de")
    assert await bot.get_my_commands(language_code="de") == ()
