"""The Discord adapter end to end: the real discord.py client, our engine and a real database, against
the fake Discord in fake_discord.py (REST and gateway on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord.client import DiscordAdapter
from bot import texts
from bot.adapter import Handled
from bot.catchup import OpenQuestions
from bot.commands import CommandSpec, default_registry
from bot.config import Settings
from bot.customer_commands import mydata_json
from bot.errors import (
    HandlingDeferred,
    MessageRejected,
    PlatformGone,
    RecipientUnreachable,
    TryLater,
)
from bot.i18n import Voice
from bot.roles import Role
from bot.runtime.app import Runtime, build_runtime
from bot.runtime.supervisor import PlatformSupervisor
from bot.types import ChatRef, Choice, Inbound, Outbound
from storage.store import Store
from tests.adapters.fake_discord import (
    FakeDiscord,
    FakeGuild,
    FakeInteraction,
    FakeUser,
    HiddenCommand,
    RequestRecord,
    buttons,
)
from tests.support import FakeClock, OnRuntime, find_customer, latest_run, make_settings

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

POLLS = {
    "polls": [
        {"id": "visit", "question": "What was your favourite part?", "rating": True},
        {"id": "weekly", "question": "How was your week?", "rating": False},
        {"id": "nps", "question": "Would you recommend us?", "rating": True, "scale": 10},
    ],
    "goals": [{"metric": "answers", "target": 10}],
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
esc = discord.utils.escape_markdown


async def eventually(read: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], within: float = 5.0) -> None:
    """For effects with no message to wait for (an edit is stored silently)."""
    deadline = time.monotonic() + within
    while not check(await read()):
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.02)


@dataclass
class Shop(OnRuntime):
    """A Discord server with the bot in it, wired to a real engine, database and outbox."""

    fake: FakeDiscord
    guild: FakeGuild
    general: int
    reports: int
    runtime: Runtime
    clock: FakeClock
    adapter: DiscordAdapter
    sam: FakeUser  # staff by user id
    olga: FakeUser  # manager by role

    def member(self, name: str, *roles: str, dms_closed: bool = False, locale: str = "en-GB") -> FakeUser:
        user = self.fake.add_user(name, dms_closed=dms_closed, locale=locale)
        self.fake.add_member(self.guild, user, roles)
        return user

    async def restart(self) -> None:
        """The bot process restarts: a new client, nothing kept in memory."""
        await self.adapter.stop()
        self.adapter = new_adapter(self.fake, self.settings)
        self.adapter.catch_up_with(OpenQuestions(self.store, self.clock))  # as build_runtime wires it
        self.runtime.adapters[self.adapter.platform] = self.adapter
        await self.adapter.start(self.engine.on_message)

    async def subscribe(self, user: FakeUser, tag: str | None = None) -> None:
        ix = await self.fake.slash(user, "start", {"tag": tag} if tag else {}, channel_id=self.general)
        await self.fake.reply(ix)

    async def run_poll(self, poll_id: str = "visit") -> int:
        started = await self.engine.start_run(poll_id, triggered_by="test")
        assert started is not None
        await self.worker.drain()
        return started.run_id

    async def answers(self, user: FakeUser) -> list[dict[str, Any]]:
        customer = await find_customer(self.store, "discord", str(user.id))
        assert customer is not None
        async with self.store.read() as unit:
            data = await unit.customers.data(customer.id)
        assert data is not None
        return list(mydata_json(data)["answers"])


def new_adapter(fake: FakeDiscord, settings: Settings, **options: Any) -> DiscordAdapter:
    assert settings.discord is not None
    options = {"voices": settings.voice} | options
    return DiscordAdapter(
        settings.discord, fake.token, poll_ids=[p.id for p in settings.polls], guild_ready_timeout=0.05, **options
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def shop(fake: FakeDiscord, sqlite_store: Store) -> AsyncIterator[Shop]:
    async with open_shop(fake, sqlite_store) as opened:
        yield opened


@pytest.fixture
async def shop_on_both(fake: FakeDiscord, store: Store) -> AsyncIterator[Shop]:
    """The shop on SQLite and on PostgreSQL (for what reads or writes the database in a new way)."""
    async with open_shop(fake, store) as opened:
        yield opened


@contextlib.asynccontextmanager
async def open_shop(fake: FakeDiscord, store: Store) -> AsyncIterator[Shop]:
    clock = FakeClock(datetime.now(UTC))  # Discord dates messages and interactions with the real time
    guild = fake.add_guild("Coffee shop", roles=("Staff", "Managers"), channels=("general", "reports"))
    sam = fake.add_user("sam")
    olga = fake.add_user("olga")
    fake.add_member(guild, sam)
    fake.add_member(guild, olga, ("Managers",))
    fake.allow_commands(guild, roles=("Staff", "Managers"), users=(sam,))  # the owner's Integrations settings
    reports = fake.channel_id(guild, "reports")
    settings = make_settings(
        POLLS,
        discord={
            "api_base": fake.api_base,
            "guild_ids": [str(guild.id)],
            "staff": [str(sam.id)],
            "staff_roles": ["Staff"],
            "manager_roles": ["Managers"],
            "digest_channels": [str(reports)],
        },
    )
    adapter = new_adapter(fake, settings)
    runtime = build_runtime(settings, adapters=[adapter], clock=clock, store=store)  # the real digest
    await adapter.start(runtime.engine.on_message)
    shop = Shop(fake, guild, fake.channel_id(guild), reports, runtime, clock, adapter, sam, olga)
    worker = asyncio.create_task(runtime.worker.run_forever())  # replies leave as they do in production
    try:
        yield shop
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await shop.adapter.stop()
    # Every test: each interaction got its one response within Discord's 3 seconds.
    assert fake.late_interactions() == []
    assert [ix.refused for ix in fake.interactions.values() if ix.refused] == []


# ---------------------------------------------------------------------- customers
async def test_opt_in_in_the_server_then_answer_the_dm_question_with_the_form(shop: Shop) -> None:
    fake = shop.fake
    alice = shop.member("alice")
    ix = await fake.slash(alice, "start", {"tag": "vip"}, channel_id=shop.general)
    welcome = await fake.reply(ix)
    assert ix.response_type == 5 and ix.callbacks[0][1]["flags"] == 64  # deferred, ephemeral in the server
    assert welcome["content"].startswith("Hi alice! You're subscribed.")
    customer = await find_customer(shop.store, "discord", str(alice.id))
    assert customer is not None and customer.chat_id == str(fake.dm_channels[alice.id])  # the DM, not #general

    seen = len(fake.conversation(alice))
    await shop.run_poll("visit")
    question = await fake.next_message(alice, seen)
    assert question["channel_id"] == str(fake.dm_channels[alice.id])
    assert question["content"].startswith("What was your favourite part?")
    assert [b["label"] for b in buttons(question)] == ["Answer"]

    opened = await fake.press(alice, question, "Answer")
    await fake.until(lambda: opened.modal is not None)
    assert opened.modal is not None and len(opened.modal["title"]) <= 45
    submit = await fake.submit_modal(
        alice, opened, {"Your answer": "The **cake** @everyone", "Rating from 1 to 5 (optional)": "4"}
    )
    thanks = await fake.reply(submit)
    assert thanks["content"] == EN(texts.THANKS)
    assert submit.response_type == 7 and buttons(fake.messages[int(question["id"])]) == []  # no second answer
    [answer] = await shop.answers(alice)
    assert (answer["answer"], answer["rating"], answer["poll"]) == ("The **cake** @everyone", 4, "visit")


async def test_a_german_discord_user_reads_german_and_sees_german_command_descriptions(shop: Shop) -> None:
    fake = shop.fake
    heidi = shop.member("heidi", locale="de")
    welcome = await fake.reply(await fake.slash(heidi, "start", channel_id=shop.general))
    assert welcome["content"].startswith("Hallo heidi! Du bist jetzt dabei.")

    seen = len(fake.conversation(heidi))
    await shop.run_poll("visit")
    question = await fake.next_message(heidi, seen)
    assert [b["label"] for b in buttons(question)] == ["Antworten"]  # the language stored at /start
    opened = await fake.press(heidi, question, "Antworten")
    await fake.until(lambda: opened.modal is not None)
    assert opened.modal is not None and opened.modal["title"] == "Deine Antwort"
    submit = await fake.submit_modal(
        heidi, opened, {"Deine Antwort": "Der Kuchen", "Bewertung von 1 bis 5 (optional)": "5"}
    )
    assert (await fake.reply(submit))["content"] == "Danke für deine Antwort!"

    [forget] = [c for c in fake.commands[shop.guild.id] if c["name"] == "forget"]
    assert forget["description"] == "Erase everything stored about you"  # [engine] language
    assert forget["description_localizations"] == {
        "de": "Alles löschen, was über dich gespeichert ist",
        "fr": "Effacer tout ce qui est enregistré à votre sujet",
        "es-ES": "Borrar todo lo que se guarda sobre ti",
        "es-419": "Borrar todo lo que se guarda sobre ti",
    }
    [poll] = [c for c in fake.commands[shop.guild.id] if c["name"] == "poll"]
    assert poll["options"][0]["description"] == "The poll to ask"
    assert poll["options"][0]["description_localizations"]["de"] == "Die Umfrage, die gestellt werden soll"


async def test_dm_text_answer_is_followed_by_rating_buttons_that_work_once(shop: Shop) -> None:
    fake = shop.fake
    bob = shop.member("bob")
    await fake.send_text(bob, "/start")
    welcome = await fake.next_message(bob, 0)
    assert welcome["content"].startswith("Hi bob!") and "webhook_id" not in welcome  # a plain DM reply
    await shop.run_poll("visit")
    seen = len(fake.conversation(bob))
    message_id = await fake.send_text(bob, "Friendly staff, great_coffee")
    ask = await fake.next_message(bob, seen)
    assert ask["content"] == EN(texts.ASK_RATING, low=1, high=5)
    assert [b["label"] for b in buttons(ask)] == ["1", "2", "3", "4", "5"]
    assert all(len(b["custom_id"]) <= 100 for b in buttons(ask))

    press = await fake.press(bob, ask, "5")
    assert (await fake.reply(press))["content"] == esc(EN(texts.RATING_THANKS))
    assert buttons(fake.messages[int(ask["id"])]) == []  # removed: it cannot be pressed twice
    with pytest.raises(AssertionError, match="no button"):
        await fake.press(bob, ask, "4")

    await fake.edit_text(bob, message_id, "Friendly staff, great coffee!")
    await eventually(lambda: shop.answers(bob), lambda a: a[0]["answer"] == "Friendly staff, great coffee!")
    [answer] = await shop.answers(bob)
    assert answer["rating"] == 5 and answer["edited_at"] is not None

    seen = len(fake.conversation(bob))
    await fake.send_sticker(bob)
    assert (await fake.next_message(bob, seen))["content"] == EN(texts.ASK_IN_WORDS)


@pytest.mark.parametrize(("poll", "labels"), [("visit", "12345"), ("nps", [str(n) for n in range(11)])])
async def test_a_form_answer_without_a_rating_gets_the_rating_buttons(shop: Shop, poll: str, labels: Any) -> None:
    fake = shop.fake
    vic = shop.member("vic")
    await shop.subscribe(vic)
    await shop.run_poll(poll)
    question = fake.last(vic)
    opened = await fake.press(vic, question, "Answer")
    await fake.until(lambda: opened.modal is not None)
    submit = await fake.submit_modal(vic, opened, {"Your answer": "Good coffee"})  # the rating left empty
    ask = await fake.reply(submit)
    low, high = (0, 10) if poll == "nps" else (1, 5)
    assert ask["content"] == EN(texts.ASK_RATING, low=low, high=high)
    assert [b["label"] for b in buttons(ask)] == list(labels)
    press = await fake.press(vic, ask, labels[-2])
    assert (await fake.reply(press))["content"] == esc(EN(texts.RATING_THANKS))
    [answer] = await shop.answers(vic)
    assert (answer["answer"], answer["rating"]) == ("Good coffee", int(labels[-2]))


async def test_after_a_dm_text_answer_the_question_has_no_answer_button(shop: Shop) -> None:
    fake = shop.fake
    wes = shop.member("wes")
    await shop.subscribe(wes)
    await shop.run_poll("weekly")
    question = fake.last(wes)
    assert [b["label"] for b in buttons(question)] == ["Answer"]
    seen = len(fake.conversation(wes))
    await fake.send_text(wes, "A calm week")
    await fake.next_message(wes, seen)
    await fake.until(lambda: buttons(fake.messages[int(question["id"])]) == [], what="the Answer button removed")
    with pytest.raises(AssertionError, match="no button"):
        await fake.press(wes, fake.messages[int(question["id"])], "Answer")


async def test_forget_in_the_server_asks_with_private_buttons_and_erases(shop: Shop) -> None:
    fake = shop.fake
    cleo = shop.member("cleo")
    await shop.subscribe(cleo)
    ix = await fake.slash(cleo, "forget", channel_id=shop.general)
    confirm = await fake.reply(ix)
    assert confirm["flags"] & 64 and confirm["content"] == EN(texts.FORGET_CONFIRM)  # only cleo sees it
    press = await fake.press(cleo, confirm, "Yes, erase everything")
    assert (await fake.reply(press))["content"] == EN(texts.FORGET_DONE)
    assert await find_customer(shop.store, "discord", str(cleo.id)) is None


# ---------------------------------------------------------------------- staff and managers
async def test_staff_start_a_poll_by_user_id_and_by_role_with_autocomplete(shop: Shop) -> None:
    fake = shop.fake
    for name in ("ann", "ben"):
        await shop.subscribe(shop.member(name), tag="vip" if name == "ann" else None)
    complete = await fake.autocomplete(shop.sam, "poll", {"poll_id": "vi"}, "poll_id", channel_id=shop.general)
    await fake.until(lambda: complete.response_type == 8)
    assert complete.choices == [{"name": "visit", "value": "visit"}]

    ix = await fake.slash(shop.sam, "poll", {"poll_id": "visit"}, channel_id=shop.general)
    reply = await fake.reply(ix)
    assert reply["content"].startswith("Poll 'visit' started (run 1): 2 customers will be asked.")
    assert reply["flags"] & 64  # ephemeral: only the caller sees it

    rita = shop.member("rita", "Staff")
    ix = await fake.slash(rita, "poll", {"poll_id": "weekly", "tag": "vip"}, channel_id=shop.general)
    assert "1 customer tagged 'vip' will be asked" in (await fake.reply(ix))["content"]
    run = await latest_run(shop.store)
    assert run is not None and run.triggered_by == f"discord:{rita.id}"

    ix = await fake.slash(rita, "status", {"run": 1}, channel_id=shop.general)
    assert (await fake.reply(ix))["content"].startswith("Run 1 – poll visit")


async def test_member_without_the_role_is_refused_and_nothing_starts(shop: Shop) -> None:
    fake = shop.fake
    mallory = shop.member("mallory")
    with pytest.raises(HiddenCommand):  # default_member_permissions: ordinary members don't see it
        await fake.slash(mallory, "poll", {"poll_id": "visit"}, channel_id=shop.general)
    fake.allow_commands(shop.guild, users=(mallory,))  # the owner may show it to anyone: still checked
    ix = await fake.slash(mallory, "poll", {"poll_id": "visit"}, channel_id=shop.general)
    assert (await fake.reply(ix))["content"] == EN(texts.NOT_ALLOWED_STAFF)
    ix = await fake.slash(shop.sam, "digest", channel_id=shop.general)  # staff, but not a manager
    assert (await fake.reply(ix))["content"] == EN(texts.NOT_ALLOWED_MANAGERS)
    assert await latest_run(shop.store) is None


def _filled(spec: CommandSpec) -> dict[str, object]:
    """Values for a command's required options (a poll that exists, the first choice, the minimum)."""
    values: dict[str, object] = {}
    for option in spec.options:
        if option.required:
            values[option.name] = (
                "visit"
                if option.suggest_polls
                else option.choices[0]
                if option.choices
                else option.minimum or 1
                if option.kind == "integer"
                else "x"
            )
    return values


async def test_an_outsider_with_roles_named_like_ours_in_their_own_server_is_refused_everything(shop: Shop) -> None:
    """Anyone can add the bot to their server and create roles named "Staff" and "Managers"."""
    fake = shop.fake
    customer = shop.member("carol")
    await shop.subscribe(customer)
    seen = len(fake.conversation(customer))
    evil = fake.add_guild("Evil", roles=("Staff", "Managers"))
    eve = fake.add_user("eve")
    fake.add_member(evil, eve, ("Staff", "Managers"), owner=True)  # she sees every command there
    fake.add_member(evil, shop.sam)  # staff by user id, but in a server we did not configure
    fake.add_member(evil, shop.olga, ("Managers",))
    fake.allow_commands(evil, users=(shop.sam, shop.olga))
    # Global commands left from a deployment without guild_ids reach every server the bot is in.
    fake.commands[None] = fake.commands[shop.guild.id]
    await shop.restart()  # the bot now knows the second server too
    team = [spec for spec in default_registry() if spec.role > Role.CUSTOMER]
    assert {s.name for s in team} >= {"poll", "polls", "status", "digest", "goals"}
    channel = fake.channel_id(evil)
    for user in (eve, shop.sam, shop.olga):
        for spec in team:
            ix = await fake.slash(user, spec.name, _filled(spec), channel_id=channel)
            refusal = texts.NOT_ALLOWED_MANAGERS if spec.role is Role.MANAGER else texts.NOT_ALLOWED_STAFF
            assert (await fake.reply(ix))["content"] == EN(refusal), spec.name
            typed = await fake.slash(user, "help", channel_id=channel)  # /help there lists no team command
            assert f"/{spec.name}" not in (await fake.reply(typed))["content"]
    assert await latest_run(shop.store) is None
    await shop.worker.drain()
    assert len(fake.conversation(customer)) == seen  # no customer was messaged
    complete = await fake.autocomplete(eve, "poll", {"poll_id": "vi"}, "poll_id", channel_id=channel)
    await fake.until(lambda: complete.response_type == 8)
    assert complete.choices == []  # not even our poll ids


async def test_roles_count_by_id_and_configured_names_are_resolved_at_start_in_our_server(
    fake: FakeDiscord, sqlite_store: Store, clock: FakeClock
) -> None:
    guild = fake.add_guild("Coffee shop", roles=("Baristas", "Staff", "Owners"))
    settings = make_settings(
        POLLS,
        discord={
            "api_base": fake.api_base,
            "guild_ids": [str(guild.id)],
            "staff_role_ids": [str(guild.role_id("Baristas"))],
            "manager_roles": ["Owners"],
        },
    )
    fake.allow_commands(guild, roles=("Baristas", "Staff", "Owners"))
    adapter = new_adapter(fake, settings)
    runtime = build_runtime(settings, adapters=[adapter], clock=clock, store=sqlite_store)
    await adapter.start(runtime.engine.on_message)
    worker = asyncio.create_task(runtime.worker.run_forever())
    try:
        # A role created (or renamed to "Owners") after the start is not the role the name resolved to.
        late = fake.new_id()
        guild.roles[late] = "Owners"
        users = {}
        for name, roles in (("bea", ("Baristas",)), ("oli", ("Owners",)), ("stu", ("Staff",))):
            users[name] = fake.add_user(name)
            fake.add_member(guild, users[name], roles)
        ned = fake.add_user("ned")
        guild.members[ned.id] = [late]
        general = fake.channel_id(guild)
        replies = {}
        for name, user in [*users.items(), ("ned", ned)]:
            if name == "ned":
                fake.allow_commands(guild, users=(ned,))
            ix = await fake.slash(user, "goals", channel_id=general)
            replies[name] = (await fake.reply(ix))["content"]
        assert "Answers 0 – target 10" in replies["oli"]  # a manager by the resolved name
        assert replies["bea"] == EN(texts.NOT_ALLOWED_MANAGERS)  # staff by role id, not manager
        assert replies["stu"] == EN(texts.NOT_ALLOWED_MANAGERS)
        assert replies["ned"] == EN(texts.NOT_ALLOWED_MANAGERS)
        ix = await fake.slash(users["bea"], "polls", channel_id=general)
        assert (await fake.reply(ix))["content"] != EN(texts.NOT_ALLOWED_STAFF)
        ix = await fake.slash(users["stu"], "polls", channel_id=general)  # "Staff" is not configured here
        assert (await fake.reply(ix))["content"] == EN(texts.NOT_ALLOWED_STAFF)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await adapter.stop()


async def test_in_a_dm_user_ids_count_and_roles_do_not(shop: Shop) -> None:
    fake = shop.fake
    seen = len(fake.conversation(shop.sam))
    await fake.send_text(shop.sam, "/polls")  # staff by user id
    assert (await fake.next_message(shop.sam, seen))["content"] != EN(texts.NOT_ALLOWED_STAFF)
    seen = len(fake.conversation(shop.olga))
    await fake.send_text(shop.olga, "/goals")  # a manager by her role in our server: a DM carries no roles
    assert (await fake.next_message(shop.olga, seen))["content"] == EN(texts.NOT_ALLOWED_MANAGERS)


async def test_team_commands_are_hidden_from_ordinary_members(shop: Shop) -> None:
    registered = {c["name"]: c for c in shop.fake.commands[shop.guild.id]}
    for spec in default_registry():
        wanted = None if spec.role is Role.CUSTOMER else str(discord.Permissions(manage_guild=True).value)
        assert registered[spec.name]["default_member_permissions"] == wanted, spec.name


async def test_manager_digest_comes_with_the_chart_attached(shop: Shop) -> None:
    fake = shop.fake
    jo = shop.member("jo")
    await shop.subscribe(jo)
    await shop.run_poll("visit")
    seen = len(fake.conversation(jo))
    await fake.send_text(jo, "Lovely @everyone **cake**")
    ask = await fake.next_message(jo, seen)
    await fake.reply(await fake.press(jo, ask, "2"))  # rated low: quoted under "What to fix"

    ix = await fake.slash(shop.olga, "digest", {"period": "week"}, channel_id=shop.general)  # the week so far
    reply = await fake.reply(ix)
    assert ix.response_type == 5  # deferred at once: building the chart takes a while
    assert "Lovely @everyone \\*\\*cake\\*\\*" in reply["content"]
    assert reply["allowed_mentions"] == {"parse": []}
    [chart] = reply["attachments"]
    assert chart["filename"] == "digest-week.png" and chart["_data"].startswith(PNG_MAGIC)
    ix = await fake.slash(shop.olga, "goals", channel_id=shop.general)
    assert "Answers 1 – target 10" in (await fake.reply(ix))["content"]

    # The scheduled digest (the last complete week): one message with the chart in each digest channel.
    shop.clock.advance(days=7)
    assert await shop.runtime.digests.post(shop.clock.now()) == 1

    def digests() -> list[dict[str, Any]]:  # the channel also has the low rating's staff alert
        return [m for m in fake.channel_messages(shop.reports) if m["content"].startswith("Feedback digest")]

    await fake.until(digests)
    [posted] = digests()
    assert "Unhappy customer: jo" in fake.channel_messages(shop.reports)[0]["content"]
    assert posted["content"].startswith("Feedback digest") and "\\*\\*cake\\*\\*" in posted["content"]
    assert posted["attachments"][0]["_data"].startswith(PNG_MAGIC)
    assert posted["allowed_mentions"] == {"parse": []}


async def test_slow_work_is_acknowledged_in_time_and_answered_after(shop: Shop) -> None:
    """Every interaction is acknowledged before the engine runs, however slow the engine is."""
    fake = shop.fake
    fake.answer_window = 0.25  # Discord's 3 seconds, scaled down with the engine's slowness below
    ivy = shop.member("ivy")
    await shop.subscribe(ivy)
    await shop.run_poll("visit")
    question = fake.last(ivy)

    async def slow(inbound: Inbound) -> Handled:
        await asyncio.sleep(0.5)
        return await shop.engine.on_message(inbound)

    await shop.adapter.stop()
    await shop.adapter.start(slow)
    digest = await fake.slash(shop.olga, "digest", channel_id=shop.general)
    opened = await fake.press(ivy, question, "Answer")
    await fake.until(lambda: opened.modal is not None)
    submit = await fake.submit_modal(ivy, opened, {"Your answer": "Quick service"})
    assert (await fake.reply(submit))["content"] == EN(texts.ASK_RATING, low=1, high=5)
    assert (await fake.reply(digest))["attachments"]
    assert fake.late_interactions() == []
    assert [ix.response_type for ix in (digest, opened, submit)] == [5, 9, 7]


async def test_a_press_that_fails_puts_the_buttons_back_and_says_sorry(shop: Shop) -> None:
    fake = shop.fake
    max_ = shop.member("max")
    await fake.send_text(max_, "/start")
    await fake.next_message(max_, 0)
    await shop.run_poll("visit")
    await fake.send_text(max_, "Good")
    ask = await fake.next_message(max_, 2)
    before = buttons(ask)

    async def broken(inbound: Inbound) -> Handled:
        raise HandlingDeferred("database is down", retry_after=0.05)

    await shop.adapter.stop()
    shop.adapter = new_adapter(fake, shop.settings, interaction_retry_for=0.3)  # Discord's 15 minutes, scaled
    shop.runtime.adapters["discord"] = shop.adapter
    await shop.adapter.start(broken)
    press = await fake.press(max_, ask, "3")
    assert (await fake.reply(press))["content"] == EN(texts.ERROR)
    assert buttons(fake.messages[int(ask["id"])]) == before  # the customer can press again

    await shop.adapter.stop()
    await shop.adapter.start(shop.engine.on_message)
    press = await fake.press(max_, fake.messages[int(ask["id"])], "3")
    assert (await fake.reply(press))["content"] == esc(EN(texts.RATING_THANKS))


def test_the_fake_reports_an_interaction_nobody_answered_as_late() -> None:
    user = FakeUser(1, "x")
    ix = FakeInteraction(id=2, token="t", type=2, user=user, channel_id=3, guild_id=None, created=10.0)
    assert not ix.late(12.9) and ix.late(13.1)
    ix.responded_at = 12.0
    assert not ix.late(100.0)


# ---------------------------------------------------------------------- failures and limits
async def test_dms_closed_50007_marks_the_customer_unreachable_and_is_never_retried(shop: Shop) -> None:
    fake = shop.fake
    dave = shop.member("dave")
    await shop.subscribe(dave)
    dave.dms_closed = True
    dm = fake.dm_channels[dave.id]
    await shop.run_poll("visit")
    customer = await find_customer(shop.store, "discord", str(dave.id))
    assert customer is not None and not customer.reachable
    assert customer.unreachable_reason == "discord 50007: Cannot send messages to this user"
    shop.clock.advance(hours=3)
    await shop.worker.drain()
    await shop.run_poll("weekly")  # unreachable customers are not asked again
    posts = fake.requests_to("POST", rf"/channels/{dm}/messages$")
    assert [p.status for p in posts] == [403] and fake.invalid_requests == 1


async def test_a_429_is_waited_out_as_discord_asks(shop: Shop) -> None:
    fake = shop.fake
    erin = shop.member("erin")
    await shop.subscribe(erin)
    dm = fake.dm_channels[erin.id]
    fake.rate_limit("POST", rf"/channels/{dm}/messages$", retry_after=0.4)
    await shop.run_poll("visit")
    first, second = fake.requests_to("POST", rf"/channels/{dm}/messages$")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.4  # discord.py slept retry_after before trying again
    question = fake.last(erin)
    assert question["content"].startswith("What was your favourite part?")


async def _subscribed(shop: Shop, *names: str) -> list[FakeUser]:
    users = [shop.member(name) for name in names]
    for user in users:
        await shop.subscribe(user)
    return users


async def _all_reachable(shop: Shop, users: list[FakeUser]) -> bool:
    customers = [await find_customer(shop.store, "discord", str(u.id)) for u in users]
    return all(c is not None and c.reachable and c.unreachable_reason is None for c in customers)


async def test_a_token_reset_mid_run_stops_sending_and_leaves_every_customer_reachable(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    fake = shop.fake
    users = await _subscribed(shop, "ann", "bob", "cat")
    fake.token = "reset-in-the-developer-portal"  # every REST call now answers 401
    with caplog.at_level(logging.ERROR, logger="feedbot"):
        await shop.run_poll("visit")
    assert await _all_reachable(shop, users)
    assert shop.worker.gone.get("discord", "").startswith("discord 401")
    lines = [r.getMessage() for r in caplog.records if "refuses us" in r.getMessage()]
    assert len(lines) == 1 and "discord" in lines[0]  # one clear line, not one per customer
    assert fake.token not in lines[0]
    assert all(fake.texts(u)[-1].startswith("Hi ") for u in users)  # nothing was sent meanwhile


async def test_rate_limits_mid_run_are_retried_later_and_never_count_against_customers(shop: Shop) -> None:
    fake = shop.fake
    users = await _subscribed(shop, "dan", "eva")
    # Longer than discord.py waits in place (RateLimited), then 429s until its own retries give up.
    fake.rate_limit("POST", r"/channels/\d+/messages$", retry_after=90, times=1)
    fake.rate_limit("POST", r"/channels/\d+/messages$", retry_after=0.01, times=5)
    await shop.run_poll("visit")
    assert await _all_reachable(shop, users)
    assert [r.status for r in fake.requests_to("POST", r"/channels/\d+/messages$")].count(429) == 6
    shop.clock.advance(minutes=10)  # the outbox's back-off
    await shop.worker.drain()
    assert all(fake.last(u)["content"].startswith("What was your favourite part?") for u in users)
    assert await _all_reachable(shop, users)


async def test_send_errors_become_delivery_errors(shop: Shop) -> None:
    with pytest.raises(RecipientUnreachable) as unknown:
        await shop.adapter.send(Outbound(ChatRef("discord", "12345"), "hello"))
    assert unknown.value.reason.startswith("discord 10003")
    with pytest.raises(RecipientUnreachable):
        await shop.adapter.send(Outbound(ChatRef("discord", "general"), "hello"))
    shop.fake.rate_limit("POST", rf"/channels/{shop.reports}/messages$", retry_after=60)
    with pytest.raises(TryLater) as limited:  # longer than we wait in place: the outbox retries later
        await shop.adapter.send(Outbound(ChatRef("discord", str(shop.reports)), "hello"))
    assert limited.value.retry_after == 60
    shop.fake.fail("POST", rf"/channels/{shop.reports}/messages$", 503, 0, "Service Unavailable")
    with pytest.raises(TryLater):
        await shop.adapter.send(Outbound(ChatRef("discord", str(shop.reports)), "hello"))
    shop.fake.fail("POST", rf"/channels/{shop.reports}/messages$", 400, 50035, "Invalid Form Body")
    with pytest.raises(MessageRejected):  # our own payload: never "unreachable"
        await shop.adapter.send(Outbound(ChatRef("discord", str(shop.reports)), "hello"))
    kim = shop.member("kim")
    await shop.subscribe(kim)
    shop.fake.fail("POST", r"/channels/\d+/messages$", 403, 50278, "Cannot send messages to this user")
    await shop.run_poll("visit")  # kim left every server the bot is in
    customer = await find_customer(shop.store, "discord", str(kim.id))
    assert customer is not None and customer.unreachable_reason == "discord 50278: Cannot send messages to this user"
    await shop.adapter.stop()
    with pytest.raises(TryLater):
        await shop.adapter.send(Outbound(ChatRef("discord", str(shop.reports)), "hello"))


async def test_an_answer_after_the_interaction_expired_goes_to_the_dm_or_nowhere(shop: Shop) -> None:
    fake = shop.fake
    uma = shop.member("uma")
    await shop.subscribe(uma)
    ix = await fake.slash(uma, "help", channel_id=shop.general)
    await fake.reply(ix)
    # Discord's 15 minutes, scaled down once the replies above are in (on a loaded machine they may
    # take longer than this); the fake checks a token's age at each request.
    fake.token_lifetime = 0.2
    await asyncio.sleep(0.3)  # the worker was slower than the token's life (a backlog, a restart)
    handle = f"{fake.application_id}:e:{ix.token}"
    dm = ChatRef("discord", str(fake.dm_channels[uma.id]), str(uma.id))
    await shop.adapter.send(Outbound(dm, "Your data, as asked", reply_handle=handle))
    assert fake.last(uma)["content"] == "Your data, as asked" and fake.last(uma)["channel_id"] == dm.chat_id
    team = ChatRef("discord", str(shop.general))
    with pytest.raises(MessageRejected, match="expired"):  # was for uma's eyes only: never posted openly
        await shop.adapter.send(Outbound(team, "Run 1 – poll visit", reply_handle=handle))
    assert fake.channel_messages(shop.general) == [] or all(
        m["flags"] & 64 for m in fake.channel_messages(shop.general)
    )
    assert shop.adapter.failure is None and await _all_reachable(shop, [uma])


async def test_long_text_is_split_escaped_and_never_pings(shop: Shop) -> None:
    text = "@everyone look: **bold** _x_ `code`\n" + "word " * 900
    choices = (Choice("Yes", "forget:yes"), Choice("No", "forget:no"))
    await shop.adapter.send(Outbound(ChatRef("discord", str(shop.reports)), text, choices=choices))
    parts = shop.fake.channel_messages(shop.reports)
    assert len(parts) == 3 and all(len(p["content"]) <= 2000 for p in parts)
    assert parts[0]["content"].startswith(r"@everyone look: \*\*bold\*\* \_x\_ \`code\`")
    assert all(p["allowed_mentions"] == {"parse": []} for p in parts)
    assert [buttons(p) != [] for p in parts] == [False, False, True]  # buttons on the last part only
    assert "".join(p["content"] for p in parts).count("word") == 900


async def test_logs_never_show_the_token_and_customer_text_only_at_debug(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    fake = shop.fake
    secret = "Secret answer 7f3a"
    with caplog.at_level(logging.DEBUG):
        await shop.restart()  # log in again, with the capture on
        lea = shop.member("lea")
        await shop.subscribe(lea)
        await shop.run_poll("visit")
        opened = await fake.press(lea, fake.last(lea), "Answer")
        await fake.until(lambda: opened.modal is not None)
        await fake.reply(await fake.submit_modal(lea, opened, {"Your answer": secret}))
        await fake.send_text(lea, "nope")  # not a bug to log: the engine answers it
    ours = [r for r in caplog.records if not r.name.startswith("aiohttp")]  # aiohttp.*: the fake's own logs
    assert ours and not any(fake.token in r.getMessage() for r in ours)
    assert not any(secret in r.getMessage() for r in ours if r.levelno > logging.DEBUG)
    assert any(secret in r.getMessage() for r in ours if r.name == "feedbot.engine")  # at DEBUG


# ---------------------------------------------------------------------- restarts and start-up
def catch_up_reads(fake: FakeDiscord) -> list[RequestRecord]:
    return [r for r in fake.requests_to("GET", r"/channels/\d+/messages$") if "after=" in r.query]


async def test_a_dm_sent_while_the_bot_was_down_is_stored_after_the_restart_exactly_once(shop_on_both: Shop) -> None:
    shop = shop_on_both
    fake = shop.fake
    pia, quin, rex = await _subscribed(shop, "pia", "quin", "rex")
    await shop.run_poll("visit")
    seen = len(fake.conversation(rex))
    await fake.send_text(rex, "Answered while we were up")
    await fake.next_message(rex, seen)  # asked for a rating
    seen = len(fake.conversation(quin))
    await fake.send_text(quin, "/help")  # handled live; her question stays open
    await fake.next_message(quin, seen)
    await shop.adapter.stop()
    await fake.send_text(pia, "Loved the terrace")  # nobody connected: Discord drops the event
    assert fake.dropped_events == ["MESSAGE_CREATE"]
    seen = len(fake.conversation(pia))
    await shop.restart()  # a new session: READY, not RESUMED
    ask = await fake.next_message(pia, seen)
    assert ask["content"] == EN(texts.ASK_RATING, low=1, high=5)
    [answer] = await shop.answers(pia)
    assert answer["answer"] == "Loved the terrace"
    question = next(m for m in fake.conversation(pia) if m["content"].startswith("What was your favourite part?"))
    await fake.until(lambda: buttons(fake.messages[int(question["id"])]) == [], what="the Answer button removed")
    reads = {r.path for r in catch_up_reads(fake)}
    assert reads == {f"/api/v10/channels/{fake.dm_channels[u.id]}/messages" for u in (pia, quin)}  # rex answered

    await shop.restart()  # quin's /help is read again: the engine's dedupe knows it was handled
    await fake.until(lambda: len(catch_up_reads(fake)) == 3, what="a catch-up")
    await eventually(
        lambda: asyncio.sleep(0, [t.get_name() for t in asyncio.all_tasks()]), lambda n: "discord-catch-up" not in n
    )
    await shop.worker.drain()
    assert len(await shop.answers(pia)) == 1
    assert [m["content"] for m in fake.conversation(pia)].count(ask["content"]) == 1  # asked once
    assert len(fake.conversation(quin)) == 3  # the welcome, the question and one /help answer: no second


async def test_gateway_reconnect_resumes_and_invalid_session_identifies_anew(shop: Shop) -> None:
    fake = shop.fake
    [sid] = list(fake.sessions)
    await fake.send_reconnect()  # op 7: reconnect and RESUME the same session
    await fake.until(lambda: fake.resumes == [sid] and fake.connected == 1, what="a RESUME")
    assert len(fake.identify) == 1 and list(fake.sessions) == [sid]
    reads = len(catch_up_reads(fake))
    tom = await _subscribed(shop, "tom")
    await shop.run_poll("visit")
    await fake.invalidate_sessions()  # op 9: the session is gone, IDENTIFY anew, then catch up
    # discord.py waits a random 1-5 s before a fresh IDENTIFY, as Discord asks after op 9.
    await fake.until(lambda: len(fake.identify) == 2 and fake.connected == 1, within=20, what="a new IDENTIFY")
    await fake.until(lambda: len(catch_up_reads(fake)) > reads, what="a catch-up")
    seen = len(fake.conversation(tom[0]))
    await fake.send_text(tom[0], "Still here")
    assert (await fake.next_message(tom[0], seen))["content"] == EN(texts.ASK_RATING, low=1, high=5)


async def test_buttons_and_the_answer_form_still_work_after_a_restart(shop: Shop) -> None:
    fake = shop.fake
    gina = shop.member("gina")
    await fake.send_text(gina, "/start")
    await fake.next_message(gina, 0)
    await shop.run_poll("visit")
    seen = len(fake.conversation(gina))
    await fake.send_text(gina, "Nice music")
    ask = await fake.next_message(gina, seen)
    await shop.run_poll("weekly")
    question = fake.last(gina)

    await shop.restart()
    press = await fake.press(gina, ask, "4")
    assert (await fake.reply(press))["content"] == esc(EN(texts.RATING_THANKS))
    opened = await fake.press(gina, question, "Answer")
    await fake.until(lambda: opened.modal is not None)
    assert opened.modal is not None and "rating" not in str(opened.modal).lower()  # weekly has no rating
    await shop.restart()  # even a form opened before a restart is received
    submit = await fake.submit_modal(gina, opened, {"Your answer": "Calm"})
    assert (await fake.reply(submit))["content"] == EN(texts.THANKS)
    answers = await shop.answers(gina)
    assert [(a["poll"], a["answer"], a["rating"]) for a in answers] == [
        ("visit", "Nice music", 4),
        ("weekly", "Calm", None),
    ]
    assert len(fake.identify) == 3 and DiscordWebSocket.DEFAULT_GATEWAY.port == fake.port


async def test_gateway_and_rest_root_point_at_api_base_and_are_restored(fake: FakeDiscord) -> None:
    before = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    settings = make_settings(POLLS, discord={"api_base": fake.api_base})
    adapter = new_adapter(fake, settings)

    async def ignore(_: object) -> Handled:
        return Handled()

    await adapter.start(ignore)
    try:
        [identify] = fake.identify
        assert identify["intents"] & ((1 << 1) | (1 << 8) | (1 << 15)) == 0  # no privileged intents
        assert [c["name"] for c in fake.commands[None]][:2] == ["start", "stop"]  # no guild_ids: global
        await adapter.start(ignore)  # already started: nothing happens
        assert len(fake.identify) == 1
    finally:
        await adapter.stop()
        await adapter.stop()  # idempotent
    assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == before


async def test_global_commands_work_in_the_dm(fake: FakeDiscord, sqlite_store: Store, clock: FakeClock) -> None:
    settings = make_settings(POLLS, discord={"api_base": fake.api_base})
    adapter = new_adapter(fake, settings)
    runtime = build_runtime(settings, adapters=[adapter], clock=clock, store=sqlite_store)
    await adapter.start(runtime.engine.on_message)
    worker = asyncio.create_task(runtime.worker.run_forever())
    try:
        hana = fake.add_user("hana")
        ix = await fake.slash(hana, "start")
        welcome = await fake.reply(ix)
        assert welcome["content"].startswith("Hi hana!") and not welcome["flags"] & 64  # a DM needs no ephemeral
        customer = await find_customer(sqlite_store, "discord", str(hana.id))
        assert customer is not None and customer.chat_id == str(fake.dm_channels[hana.id])
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await adapter.stop()


async def ignore(_: object) -> Handled:
    return Handled()


async def test_a_wrong_token_ends_the_platform_with_one_clear_reason(fake: FakeDiscord) -> None:
    settings = make_settings(POLLS, discord={"api_base": fake.api_base})
    assert settings.discord is not None
    adapter = DiscordAdapter(settings.discord, "not-the-token")
    with pytest.raises(PlatformGone) as gone:
        await adapter.start(ignore)
    assert "DISCORD_BOT_TOKEN" in gone.value.reason and "401" in gone.value.reason
    assert "not-the-token" not in repr(adapter) and "not-the-token" not in gone.value.reason
    assert fake.identify == []


@pytest.mark.parametrize("code", [4004, 4014])
async def test_a_fatal_gateway_close_at_start_is_platform_gone(fake: FakeDiscord, code: int) -> None:
    settings = make_settings(POLLS, discord={"api_base": fake.api_base})
    adapter = new_adapter(fake, settings)
    fake.close_identify_with = code
    with pytest.raises(PlatformGone, match=f"discord gateway closed {code}"):
        await adapter.start(ignore)
    assert len(fake.identify) == 1  # not retried: only the operator can fix it


async def test_transient_failures_at_start_are_try_later_naming_discord(fake: FakeDiscord, tmp_path: Any) -> None:
    settings = make_settings(POLLS, discord={"api_base": "http://127.0.0.1:9/api/v10"})  # nothing listens
    assert settings.discord is not None
    down = DiscordAdapter(settings.discord, fake.token)
    with pytest.raises(TryLater) as unreachable:
        await down.start(ignore)
    assert unreachable.value.reason.startswith("discord: cannot reach the API")
    assert "storage" not in unreachable.value.reason
    assert down.client is None  # nothing half-started

    settings = make_settings(POLLS, discord={"api_base": fake.api_base})
    adapter = new_adapter(fake, settings)
    fake.rate_limit("PUT", r"/applications/\d+/commands$", retry_after=120)  # during the command sync
    with pytest.raises(TryLater) as limited:
        await adapter.start(ignore)
    assert limited.value.retry_after == 120
    await adapter.start(ignore)  # the runner's next try
    try:
        assert fake.connected == 1
    finally:
        await adapter.stop()


async def test_stopping_during_start_up_leaves_nothing_behind() -> None:
    """Ctrl-C while Discord's API hangs: start is cancelled at once and cleans up after itself."""
    connected = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        await reader.read()  # never answers
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    before = Route.BASE
    settings = make_settings(POLLS, discord={"api_base": f"http://127.0.0.1:{port}/api/v10"})
    assert settings.discord is not None
    adapter = DiscordAdapter(settings.discord, "token")
    starting = asyncio.create_task(adapter.start(ignore))
    try:
        await asyncio.wait_for(connected.wait(), 10)
        starting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await starting
        assert adapter.client is None and Route.BASE == before
    finally:
        server.close()


async def test_a_token_reset_while_running_ends_discord_with_one_line(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    fake = shop.fake
    gone: list[PlatformGone] = []
    shop.adapter.watch(gone.append)  # what the runtime's supervisor registers
    fake.close_identify_with = 4004  # the token was reset: the next IDENTIFY is refused
    with caplog.at_level(logging.ERROR, logger="feedbot.discord"):
        await fake.invalidate_sessions()
        await fake.until(lambda: gone, within=10, what="the platform reported gone")
    [failure] = gone
    assert "4004" in failure.reason
    [line] = [r.getMessage() for r in caplog.records if r.name == "feedbot.discord"]
    assert "discord gateway closed 4004" in line
    with pytest.raises(PlatformGone):
        await shop.adapter.send(Outbound(ChatRef("discord", str(shop.reports)), "hello"))


async def test_the_supervisor_retries_a_discord_that_is_down_and_ends_it_on_a_token_reset(fake: FakeDiscord) -> None:
    settings = make_settings(POLLS, discord={"api_base": fake.api_base})
    adapter = new_adapter(fake, settings)
    supervisor = PlatformSupervisor(adapter, ignore, backoff=0.01, backoff_cap=0.05)
    fake.rate_limit("PUT", r"/applications/\d+/commands$", retry_after=120, times=2)  # down for two attempts
    running = asyncio.create_task(supervisor.run())
    try:
        await fake.until(lambda: supervisor.running, within=10, what="discord started")
        assert len(fake.requests_to("PUT", r"/applications/\d+/commands$")) == 3
        fake.close_identify_with = 4004
        await fake.invalidate_sessions()
        reason = await asyncio.wait_for(running, 10)
        assert "4004" in reason and adapter.client is None
    finally:
        running.cancel()


async def test_a_public_bot_is_reported_at_start(fake: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    for public in (True, False):
        fake.bot_public = public
        adapter = new_adapter(fake, make_settings(POLLS, discord={"api_base": fake.api_base}))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="feedbot.discord"):
            await adapter.start(ignore)
        await adapter.stop()
        assert any("Public Bot" in r.getMessage() for r in caplog.records) is public


async def test_discord_start_logs_no_voice_warnings(fake: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = True  # as in a fresh process
    adapter = new_adapter(fake, make_settings(POLLS, discord={"api_base": fake.api_base}))
    with caplog.at_level(logging.WARNING):
        await adapter.start(ignore)
    await adapter.stop()
    assert not [r for r in caplog.records if "voice" in r.getMessage()]
