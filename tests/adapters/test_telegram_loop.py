"""Closing the loop on Telegram, end to end through the real PTB Bot and the fake Bot API server: a
problem answer is posted to the team group, staff answer by replying to it (or with /reply), the
customer receives it in their private chat and their follow-up comes back to the group."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot import texts
from bot.i18n import Voice
from bot.types import rating_choice
from storage.store import Store
from tests.adapters.fake_telegram import FakeUser
from tests.adapters.telegram_harness import (
    STAFF_ID,
    TEAM_GROUP,
    TelegramWorld,
    ptb_timedelta,  # noqa: F401  (the fixture)
    team_world,
)

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

ALICE = FakeUser(4242, "Alice", "Liddell")
STAFF = FakeUser(STAFF_ID, "Sam")
STRANGER = FakeUser(5151, "Mallory")


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def tg(sqlite_store: Store) -> AsyncIterator[TelegramWorld]:
    async with team_world(sqlite_store) as world:
        yield world


async def in_group(tg: TelegramWorld, user: FakeUser, text: str, reply_to: int | None = None) -> None:
    tg.fake.send_text(user, text, group=TEAM_GROUP, reply_to=reply_to)
    await tg.fake.wait_confirmed()
    await tg.worker.drain()


async def unhappy_alice(tg: TelegramWorld) -> None:
    await tg.say(ALICE, "/start")
    started = await tg.engine.start_run("visit", triggered_by="test")
    assert started is not None
    await tg.worker.drain()
    await tg.say(ALICE, "The coffee was *cold*\nand the <b>table</b> sticky")
    await tg.press(ALICE, tg.fake.last(ALICE.id), rating_choice(started.run_id, 2))


async def test_alert_reply_and_follow_up_round_trip(tg: TelegramWorld) -> None:
    fake = tg.fake
    await unhappy_alice(tg)
    alert = fake.last(TEAM_GROUP)
    assert alert.shown.split("\n")[:2] == [
        "⚠️ Unhappy customer: Alice Liddell rated 2/5 (poll visit, answer 1)",
        '"The coffee was *cold* and the <b>table</b> sticky"',  # one line, shown as typed: no markup
    ]
    assert alert.parse_mode is None

    # A stranger in the group replying to the alert reaches nobody.
    await in_group(tg, STRANGER, "lol", reply_to=alert.message_id)
    assert "lol" not in "\n".join(fake.texts(ALICE.id))

    await in_group(tg, STAFF, "So sorry! Your next coffee is on us.", reply_to=alert.message_id)
    to_alice = fake.last(ALICE.id).shown
    assert to_alice.startswith("A message from the team about your feedback")
    assert "So sorry! Your next coffee is on us." in to_alice
    assert fake.last(TEAM_GROUP).shown.startswith("Sent to Alice Liddell (answer 1)")

    await tg.say(ALICE, "Thank you, that is kind")
    assert fake.last(ALICE.id).shown == EN(texts.FOLLOW_UP_THANKS)
    forwarded = fake.last(TEAM_GROUP)
    assert forwarded.shown.startswith('💬 Alice Liddell replied (answer 1):\n"Thank you, that is kind"')

    # Replying to the forwarded follow-up answers the customer again; so does /reply.
    await in_group(tg, STAFF, "See you soon", reply_to=forwarded.message_id)
    assert "See you soon" in fake.last(ALICE.id).shown
    await in_group(tg, STAFF, "/reply@FeedbackTestBot 1 One more thing")
    assert "One more thing" in fake.last(ALICE.id).shown
