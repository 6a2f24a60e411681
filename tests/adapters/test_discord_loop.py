"""Closing the loop on Discord, end to end through the real discord.py client and the fake Discord: a
problem answer is posted to the staff channel with a Reply button; its form answers the customer by DM
(staff only), and the customer's follow-up comes back to the channel."""

from __future__ import annotations

from bot import texts
from bot.i18n import Voice
from tests.adapters import test_discord
from tests.adapters.fake_discord import Json, buttons
from tests.adapters.test_discord import Shop

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

# The Discord shop of test_discord.py (a server, the bot, a real engine and database), shared as fixtures.
fake = test_discord.fake
shop = test_discord.shop


def posts(shop: Shop) -> list[Json]:
    """What the bot posted to the staff channel for everyone (not the ephemeral answers to one member)."""
    return [m for m in shop.fake.channel_messages(shop.reports) if int(m["id"]) not in shop.fake.ephemeral_owner]


async def test_alert_reply_button_and_follow_up_round_trip(shop: Shop) -> None:
    fake = shop.fake
    alice, mallory = shop.member("alice"), shop.member("mallory")
    await shop.subscribe(alice)
    seen = len(fake.conversation(alice))
    await shop.run_poll("visit")
    question = await fake.next_message(alice, seen)
    opened = await fake.press(alice, question, "Answer")
    await fake.until(lambda: opened.modal is not None)
    submit = await fake.submit_modal(
        alice, opened, {"Your answer": "Cold coffee\n@everyone **rude**", "Rating from 1 to 5 (optional)": "2"}
    )
    await fake.reply(submit)

    await fake.until(lambda: len(posts(shop)) == 1, what="the alert")
    [alert] = posts(shop)
    first, quote = alert["content"].split("\n")[:2]
    assert first.startswith("⚠️ Unhappy customer: alice rated 2/5")
    assert "Cold coffee" in quote and "\\*\\*rude\\*\\*" in quote  # one line, markdown escaped
    assert [b["label"] for b in buttons(alert)] == ["Reply"]

    # Anyone in the channel sees the button; only staff may use it.
    form = await fake.press(mallory, alert, "Reply")
    await fake.until(lambda: form.modal is not None)
    refused = await fake.reply(await fake.submit_modal(mallory, form, {"Your message to the customer": "haha"}))
    assert refused["content"] == EN(texts.NOT_ALLOWED_STAFF)

    seen = len(fake.conversation(alice))
    form = await fake.press(shop.sam, alert, "Reply")
    await fake.until(lambda: form.modal is not None)
    assert form.modal is not None and len(form.modal["title"]) <= 45
    sent = await fake.reply(await fake.submit_modal(shop.sam, form, {"Your message to the customer": "So sorry!"}))
    assert sent["content"].startswith("Sent to alice (answer 1)")
    to_alice = await fake.next_message(alice, seen)
    assert to_alice["content"].startswith("A message from the team about your feedback")
    assert "So sorry!" in to_alice["content"]
    assert all("haha" not in text for text in fake.texts(alice))

    seen = len(fake.conversation(alice))
    await fake.send_text(alice, "Thanks, see you soon")
    assert (await fake.next_message(alice, seen))["content"] == EN(texts.FOLLOW_UP_THANKS)
    await fake.until(lambda: len(posts(shop)) == 2, what="the forwarded follow-up")
    forwarded = posts(shop)[-1]
    assert forwarded["content"].startswith("💬 alice replied (answer 1)")
    assert [b["label"] for b in buttons(forwarded)] == ["Reply"]

    # The typed command works too.
    seen = len(fake.conversation(alice))
    ix = await fake.slash(shop.sam, "reply", {"answer_id": 1, "text": "One more thing"}, channel_id=shop.reports)
    assert (await fake.reply(ix))["content"].startswith("Sent to alice")
    assert "One more thing" in (await fake.next_message(alice, seen))["content"]

    # The Reply button survives a restart (a persistent, registered button).
    await shop.restart()
    seen = len(fake.conversation(alice))
    form = await fake.press(shop.sam, alert, "Reply")
    await fake.until(lambda: form.modal is not None)
    await fake.reply(await fake.submit_modal(shop.sam, form, {"Your message to the customer": "After a restart"}))
    assert "After a restart" in (await fake.next_message(alice, seen))["content"]
