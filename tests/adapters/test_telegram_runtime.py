"""The whole bot as `feedbot run` builds it (bot.runtime.app.Runtime), with Telegram played by the fake server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot import texts
from bot.i18n import Voice
from bot.runtime.app import build_runtime
from tests.adapters.fake_telegram import FakeTelegram, FakeUser
from tests.adapters.telegram_harness import MANAGER_ID, STAFF_ID, TEAM_GROUP, make_adapter
from tests.support import make_settings

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

ALICE = FakeUser(4242, "Alice")


async def test_customer_staff_and_manager_through_the_runtime(fake_telegram: FakeTelegram, tmp_path: Path) -> None:
    fake = fake_telegram
    fake.add_group(TEAM_GROUP)
    settings = make_settings(
        {"storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/feedbot.db"}},
        telegram={
            "base_url": fake.base_url,
            "staff": [str(STAFF_ID)],
            "managers": [str(MANAGER_ID)],
            "digest_chats": [str(TEAM_GROUP)],
        },
    )
    runtime = build_runtime(settings, adapters=[make_adapter(fake, settings)])
    stop = asyncio.Event()
    running = asyncio.create_task(runtime.run(stop))
    try:
        await fake.until(lambda: fake.calls_to("deleteWebhook"))
        fake.send_text(ALICE, "/start")
        await fake.wait_confirmed()  # different senders are handled side by side: order them here
        fake.send_text(FakeUser(STAFF_ID, "Sam"), "/poll visit")
        await fake.wait_confirmed()
        await fake.until(lambda: fake.messages(STAFF_ID))  # replies leave through the running worker
        assert fake.last(STAFF_ID).shown.startswith("Poll 'visit' started (run 1): 1 customer will be asked.")
        await fake.until(lambda: fake.last(ALICE.id).shown == "What was your favourite part?")  # the worker woke

        fake.send_text(ALICE, "Friendly staff")
        await fake.wait_confirmed()
        await fake.until(lambda: fake.last(ALICE.id).buttons)
        fake.press(ALICE, fake.last(ALICE.id), "rate:1:5")
        await fake.wait_confirmed()
        await fake.until(lambda: fake.last(ALICE.id).shown == EN(texts.RATING_THANKS))

        fake.send_text(FakeUser(MANAGER_ID, "Morgan"), "/digest@FeedbackTestBot week", group=TEAM_GROUP)
        await fake.wait_confirmed(within=30)
        await fake.until(lambda: fake.messages(TEAM_GROUP), within=30)
        digest = fake.messages(TEAM_GROUP)
        assert digest[0].method == "sendPhoto" and digest[0].photo is not None
        assert digest[0].photo.startswith(b"\x89PNG")
        assert "".join(m.shown for m in digest).strip()
        assert fake.unanswered_callbacks() == []
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
