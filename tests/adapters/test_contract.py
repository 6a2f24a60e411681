"""What every adapter owes the engine, stated once and run against the local, Telegram and Discord adapters.

Telegram and Discord run through their real SDKs against the fake servers; the platform differences
live in contract_worlds.py. A new platform passes this module before it is wired in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.errors import DeliveryError, MessageRejected, PlatformGone, RecipientUnreachable, TryLater
from bot.types import Choice, Image, Outbound
from tests.adapters.contract_worlds import DiscordWorld, Fault, LocalWorld, TelegramWorld, World
from tests.adapters.fake_discord import FakeDiscord
from tests.adapters.fake_telegram import FakeTelegram

PNG = b"\x89PNG\r\n\x1a\n-contract-"


@pytest.fixture(params=["local", "telegram", "discord"])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    chosen: World
    if request.param == "local":
        chosen = LocalWorld()
        await chosen.start()
        yield chosen
        await chosen.stop()
    elif request.param == "telegram":
        async with FakeTelegram() as fake:
            chosen = TelegramWorld(fake)
            await chosen.start()
            yield chosen
            await chosen.stop()
    else:
        discord_fake = FakeDiscord()
        await discord_fake.start()
        chosen = DiscordWorld(discord_fake)
        await chosen.start()
        yield chosen
        await chosen.stop()
        await discord_fake.stop()


# ---------------------------------------------------------------------------------- inbound
async def test_an_update_the_engine_could_not_commit_comes_again_until_it_is_handled(world: World) -> None:
    world.engine.defer = 2  # the database is away for two deliveries
    await world.customer_says("the croissants")
    await world.engine.until(lambda: world.engine.texts() == ["the croissants"])
    assert len(world.engine.calls) == 3
    assert len({call.update_id for call in world.engine.calls}) == 1  # the same update each time


async def test_the_platform_is_acknowledged_only_after_the_engine_returns(world: World) -> None:
    world.engine.hold = asyncio.Event()
    await world.customer_says("the coffee")
    await world.engine.until(lambda: len(world.engine.calls) == 1)
    held = world.unacknowledged()
    if held is not None:  # a platform that keeps updates for the bot still holds this one
        await asyncio.sleep(0.2)
        assert world.unacknowledged() == 1
    world.engine.hold.set()
    await world.engine.until(lambda: world.engine.texts() == ["the coffee"])
    await world.until_acknowledged()


async def test_a_duplicate_update_reaches_the_engine_as_the_same_update(world: World) -> None:
    await world.customer_says("the staff")
    await world.engine.until(lambda: len(world.engine.handled) == 1)
    await world.redeliver_last()
    await world.customer_says("the music")  # the platform keeps one chat's updates in order
    await world.engine.until(lambda: "the music" in world.engine.texts())
    staff = [call for call in world.engine.calls if call.text == "the staff"]
    assert len({call.update_id for call in staff}) == 1  # the engine's dedupe claim sees one update
    assert world.engine.texts() == ["the staff", "the music"]


# ---------------------------------------------------------------------------------- outbound
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.UNREACHABLE, RecipientUnreachable),
        (Fault.RATE_LIMITED, TryLater),
        (Fault.BAD_PAYLOAD, MessageRejected),
        (Fault.TOKEN_REVOKED, PlatformGone),
    ],
)
async def test_send_failures_are_told_apart(world: World, fault: Fault, expected: type[DeliveryError]) -> None:
    world.fail_next_send(fault)
    with pytest.raises(DeliveryError) as raised:
        await world.adapter.send(Outbound(world.customer, "What was your favourite part?"))
    assert type(raised.value) is expected, raised.value
    if fault is Fault.RATE_LIMITED:
        return  # the pause the platform asked for holds every send; waiting it out proves nothing here
    # The fault was the platform's answer to that one send: the next one goes out.
    await world.adapter.send(Outbound(world.customer, "Thanks!"))
    assert world.shown()[-1].text == "Thanks!"


async def test_a_server_error_is_never_the_customers_fault(world: World) -> None:
    world.fail_next_send(Fault.SERVER_ERROR)
    try:
        await world.adapter.send(Outbound(world.customer, "What was your favourite part?"))
    except DeliveryError as exc:
        assert type(exc) is TryLater, exc
    else:  # the SDK retried it in place (discord.py does for 5xx)
        assert world.shown()[-1].text == "What was your favourite part?"


async def test_choices_arrive_as_buttons_or_numbered_text(world: World) -> None:
    scale = tuple(Choice(str(n), f"rate:1:{n}") for n in range(1, 6))
    await world.adapter.send(Outbound(world.customer, "How would you rate it?", choices=scale))
    shown = world.shown()[-1]
    labels = [c.label for c in scale]
    if shown.buttons:
        assert list(shown.buttons) == labels
        assert shown.text == "How would you rate it?"
    else:
        assert shown.text.startswith("How would you rate it?")
        assert all(label in shown.text.split("\n", 1)[1] for label in labels)


async def test_long_text_is_split_within_the_platforms_limit(world: World) -> None:
    words = [f"word{n}" for n in range(2500)]  # about 20,000 characters
    text = " ".join(words)
    await world.adapter.send(Outbound(world.customer, text))
    shown = world.shown()
    if world.limit is None:
        assert [s.text for s in shown] == [text]
        return
    assert len(shown) > 1 and all(len(s.text.encode("utf-16-le")) // 2 <= world.limit for s in shown)
    assert " ".join(s.text for s in shown).split() == words  # nothing lost, nothing cut inside a word


async def test_an_image_goes_out_with_its_caption(world: World) -> None:
    chart = Image("chart.png", PNG)
    await world.adapter.send(Outbound(world.customer, "This week's answers", image=chart))
    shown = world.shown()
    assert shown[-1].image and shown[-1].text == "This week's answers"
