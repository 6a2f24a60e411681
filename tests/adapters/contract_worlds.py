"""One customer in a private chat with the bot, on each platform, for the adapter contract suite.

Every world offers the same verbs (`customer_says`, `redeliver_last`, `fail_next_send`, `shown`), so
test_contract.py reads the same for all adapters; how a platform expresses each verb (an update on
getUpdates, a gateway event, an HTTP error with its code) lives here, not in the tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from adapters.discord.client import DiscordAdapter
from adapters.local import LocalAdapter, LocalUser
from adapters.telegram.client import TelegramAdapter
from bot.adapter import Adapter, Handled
from bot.errors import HandlingDeferred, MessageRejected, PlatformGone, RecipientUnreachable, TryLater
from bot.types import ChatRef, Inbound
from tests.adapters.fake_discord import FakeDiscord, FakeUser, buttons
from tests.adapters.fake_telegram import FakeTelegram
from tests.adapters.telegram_harness import make_adapter, telegram_settings
from tests.support import make_settings


class Fault(StrEnum):
    """How the platform answers the next send to the customer."""

    UNREACHABLE = "unreachable"  # blocked the bot / DMs closed
    RATE_LIMITED = "rate_limited"  # a 429 asking for minutes: longer than an adapter waits in place
    SERVER_ERROR = "server_error"  # one 5xx
    BAD_PAYLOAD = "bad_payload"  # the platform refuses what we sent
    TOKEN_REVOKED = "token_revoked"  # 401


@dataclass(frozen=True, slots=True)
class Shown:
    """One message as the customer sees it."""

    text: str  # the text, or an image's caption
    buttons: tuple[str, ...] = ()
    image: bool = False


class EngineStandIn:
    """The engine's side of the contract: dedupe by update id, defer on request, count what reaches it.

    `defer` makes the next calls raise HandlingDeferred (as the engine does when the database is
    away); `hold` keeps a call pending until released, to look at the platform meanwhile.
    """

    def __init__(self) -> None:
        self.calls: list[Inbound] = []
        self.handled: dict[str, Inbound] = {}  # update id -> the first delivery that was handled
        self.defer = 0
        self.hold: asyncio.Event | None = None
        self.changed = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> Handled:
        self.calls.append(inbound)
        self.changed.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.defer > 0:
            self.defer -= 1
            raise HandlingDeferred("database away", retry_after=0.05)
        duplicate = inbound.update_id in self.handled
        self.handled.setdefault(inbound.update_id, inbound)
        self.changed.set()
        return Handled(duplicate=duplicate)

    def forget(self) -> None:
        self.calls.clear()
        self.handled.clear()

    def texts(self) -> list[str]:
        return [m.text for m in self.handled.values()]

    async def until(self, predicate: Any, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


class World(Protocol):
    adapter: Adapter
    limit: int | None  # the most characters one message may carry; None: no limit
    engine: EngineStandIn

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def customer_says(self, text: str) -> None: ...
    async def redeliver_last(self) -> None: ...
    def unacknowledged(self) -> int | None:
        """Updates the platform still holds for the bot; None: the platform keeps none (no replay)."""

    async def until_acknowledged(self) -> None:
        """Until the platform holds no update for the bot (at once where it keeps none)."""

    @property
    def customer(self) -> ChatRef: ...
    def fail_next_send(self, fault: Fault) -> None: ...
    def shown(self) -> Sequence[Shown]: ...


@dataclass
class LocalWorld:
    adapter: LocalAdapter = field(default_factory=lambda: LocalAdapter(redelivery_pause=0.01))
    engine: EngineStandIn = field(default_factory=EngineStandIn)
    limit: int | None = None
    user: LocalUser = LocalUser("7", "Ann")
    _last: Inbound | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self) -> None:
        await self.adapter.start(self.engine)

    async def stop(self) -> None:
        await self.adapter.stop()

    async def customer_says(self, text: str) -> None:
        self._last = self.adapter.inbound(self.user, text)
        self._background(self._last)

    async def redeliver_last(self) -> None:
        assert self._last is not None
        self._background(self._last)

    def _background(self, inbound: Inbound) -> None:
        # A platform hands the update over and goes on; it does not wait for the bot.
        task = asyncio.create_task(self.adapter.deliver(inbound))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def unacknowledged(self) -> int | None:
        return None

    async def until_acknowledged(self) -> None:
        return None

    @property
    def customer(self) -> ChatRef:
        return ChatRef("local", self.user.user_id, self.user.user_id)

    def fail_next_send(self, fault: Fault) -> None:
        # The in-process "platform" has no wire format: it fails in our own terms.
        error = {
            Fault.UNREACHABLE: RecipientUnreachable("local: blocked"),
            Fault.RATE_LIMITED: TryLater("local: slow down", retry_after=300),
            Fault.SERVER_ERROR: TryLater("local: server error"),
            Fault.BAD_PAYLOAD: MessageRejected("local: bad payload"),
            Fault.TOKEN_REVOKED: PlatformGone("local: token revoked"),
        }[fault]
        self.adapter.next_failure[self.user.user_id] = error

    def shown(self) -> list[Shown]:
        return [
            Shown(m.with_numbered_choices() if m.image is None else m.text, (), m.image is not None)
            for m in self.adapter.received(self.user)
        ]


class TelegramWorld:
    limit: int | None = 4096

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.engine = EngineStandIn()
        self.user = fake.user(4242, "Ann")
        self.adapter: TelegramAdapter = make_adapter(fake, telegram_settings(fake))
        self._last_update: int | None = None

    async def start(self) -> None:
        await self.adapter.start(self.engine)
        # Telegram lets a bot write only to users who wrote to it first.
        self.fake.send_text(self.user, "/start")
        await self.fake.wait_confirmed()
        self.engine.forget()

    async def stop(self) -> None:
        await self.adapter.stop()

    async def customer_says(self, text: str) -> None:
        self.fake.send_text(self.user, text)
        self._last_update = max(int(u["update_id"]) for u in self.fake.pending_updates)

    async def redeliver_last(self) -> None:
        update = next(u for u in self.fake.all_updates if int(u["update_id"]) == self._last_update)
        self.fake.redeliver(update)

    def unacknowledged(self) -> int | None:
        return len(self.fake.pending_updates)

    async def until_acknowledged(self) -> None:
        await self.fake.wait_confirmed()

    @property
    def customer(self) -> ChatRef:
        return ChatRef("telegram", str(self.user.id), str(self.user.id))

    def fail_next_send(self, fault: Fault) -> None:
        chat = self.user.id
        match fault:
            case Fault.UNREACHABLE:
                self.fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=chat)
            case Fault.RATE_LIMITED:
                self.fake.fail("sendMessage", 429, "Too Many Requests: retry after 300", retry_after=300, chat_id=chat)
            case Fault.SERVER_ERROR:
                self.fake.fail("sendMessage", 502, "Bad Gateway", chat_id=chat)
            case Fault.BAD_PAYLOAD:
                self.fake.fail("sendMessage", 400, "Bad Request: can't parse entities", chat_id=chat)
            case Fault.TOKEN_REVOKED:
                self.fake.fail("sendMessage", 401, "Unauthorized", chat_id=chat)

    def shown(self) -> list[Shown]:
        return [
            Shown(m.shown, tuple(label for label, _ in m.buttons), m.photo is not None)
            for m in self.fake.messages(self.user.id)
        ]


class DiscordWorld:
    limit: int | None = 2000

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.engine = EngineStandIn()
        guild = fake.add_guild("Coffee shop")
        self.user: FakeUser = fake.add_user("ann")
        fake.add_member(guild, self.user)
        settings = make_settings(discord={"api_base": fake.api_base, "guild_ids": [str(guild.id)]})
        assert settings.discord is not None
        self.adapter = DiscordAdapter(
            settings.discord, fake.token, poll_ids=[p.id for p in settings.polls], guild_ready_timeout=0.05
        )
        self._last: dict[str, Any] | None = None

    async def start(self) -> None:
        await self.adapter.start(self.engine)

    async def stop(self) -> None:
        await self.adapter.stop()

    async def customer_says(self, text: str) -> None:
        message_id = await self.fake.send_text(self.user, text)
        self._last = dict(self.fake.messages[message_id])

    async def redeliver_last(self) -> None:
        # A resumed gateway session replays the events the bot had not seen acknowledged.
        assert self._last is not None
        await self.fake.dispatch("MESSAGE_CREATE", self._last)

    def unacknowledged(self) -> int | None:
        return None  # the gateway replays nothing once a session is gone

    async def until_acknowledged(self) -> None:
        return None

    @property
    def customer(self) -> ChatRef:
        channel = str(self.fake.dm_channel(self.user))
        return ChatRef("discord", channel, str(self.user.id))

    def fail_next_send(self, fault: Fault) -> None:
        path = rf"/channels/{self.fake.dm_channel(self.user)}/messages$"
        match fault:
            case Fault.UNREACHABLE:
                self.fake.fail("POST", path, 403, 50007, "Cannot send messages to this user")
            case Fault.RATE_LIMITED:
                self.fake.rate_limit("POST", path, retry_after=300)
            case Fault.SERVER_ERROR:
                self.fake.fail("POST", path, 502, 0, "Bad Gateway")
            case Fault.BAD_PAYLOAD:
                self.fake.fail("POST", path, 400, 50035, "Invalid Form Body")
            case Fault.TOKEN_REVOKED:
                self.fake.fail("POST", path, 401, 0, "401: Unauthorized")

    def shown(self) -> list[Shown]:
        return [
            Shown(m.get("content") or "", tuple(b["label"] for b in buttons(m)), bool(m.get("attachments")))
            for m in self.fake.conversation(self.user)
            if m["author"]["id"] == str(self.fake.bot.id)
        ]
