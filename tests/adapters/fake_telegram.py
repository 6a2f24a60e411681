"""A fake Telegram Bot API server for tests: aiohttp on 127.0.0.1, as strict as the real one.

The real python-telegram-bot `Bot` talks HTTP to it (`base_url = fake.base_url`). It checks the token
in the path (`/bot<TOKEN>/<method>`), answers unknown methods with 404, and refuses what Telegram
refuses: texts over 4,096 UTF-16 units, empty texts, captions over 1,024, callback data over 64
bytes, messages to users who never wrote to the bot, getUpdates while a webhook is set, answering a
callback query twice. Tests play the users (`send_text`, `press`, `block`, ...), inject failures
(`flood`, `forbid`, `fail`) and look at what the bot sent (`texts`, `last`, `calls`).

Update confirmation follows getUpdates: an update is confirmed once getUpdates is called with an
offset above its id; unconfirmed updates are handed out again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
_OBJECT_PARAMS = {"reply_markup", "reply_parameters", "commands", "scope", "allowed_updates", "link_preview_options"}
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
WEBHOOK_PORTS = (443, 80, 88, 8443)
ANONYMOUS_ADMIN: JSON = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
_LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")  # setMyCommands: "a two-letter ISO 639-1 language code", or empty
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class BotApiError(Exception):
    def __init__(
        self, status: int, description: str, retry_after: int | None = None, migrate_to: int | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to = migrate_to

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        if self.migrate_to is not None:
            body["parameters"] = {"migrate_to_chat_id": self.migrate_to}
        return body


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str
    last_name: str | None = None
    language_code: str | None = "en"
    username: str | None = None

    def as_dict(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "language_code", "username"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    @property
    def chat(self) -> JSON:
        return {"id": self.id, "type": "private", "first_name": self.first_name}


@dataclass
class BotMessage:
    """A message the bot sent, in its current state (edits applied)."""

    chat_id: int
    message_id: int
    method: str
    text: str | None = None
    caption: str | None = None
    photo: bytes | None = None
    reply_markup: JSON | None = None
    reply_to: int | None = None
    parse_mode: str | None = None
    date: int = field(default_factory=lambda: int(time.time()))
    sent_at: float = field(default_factory=time.monotonic)  # when the fake took it (monotonic)

    @property
    def shown(self) -> str:
        return self.text if self.text is not None else self.caption or ""

    @property
    def buttons(self) -> list[tuple[str, str]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def as_dict(self, bot: JSON) -> JSON:
        data: JSON = {"message_id": self.message_id, "from": bot, "date": self.date, "chat": {"id": self.chat_id}}
        data["chat"]["type"] = "private" if self.chat_id > 0 else "supergroup"
        if self.text is not None:
            data["text"] = self.text
        if self.photo is not None:
            data["photo"] = [{"file_id": f"photo-{self.message_id}", "file_unique_id": "u", "width": 1, "height": 1}]
        if self.caption:
            data["caption"] = self.caption
        if self.reply_markup:
            data["reply_markup"] = self.reply_markup
        return data


@dataclass(frozen=True)
class FakeLimits:
    """Telegram's send limits as this server enforces them (429 with retry_after above them).

    overall: at most `per_second` sends in any sliding second; a private chat: a send starting less
    than `private_gap` after the previous one to it finished; a group: `group_per_minute`.
    """

    per_second: int = 30
    private_gap: float = 1.0
    group_per_minute: int = 20


SEND_METHODS = frozenset({"sendmessage", "sendphoto", "editmessagetext", "editmessagereplymarkup"})


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    chat_id: int | None
    times: int | None  # None: until cleared
    skip: int = 0  # matching calls let through before the failures start


class FakeTelegram:
    def __init__(
        self,
        token: str = "123456:TEST-fake-token_abcdefghijklmnop",
        username: str = "FeedbackTestBot",
        limits: FakeLimits | None = FakeLimits(),
    ):
        self.token = token
        self.limits = limits  # None: no rate limits (only for tests that fake time on the bot's side)
        self.sends: list[tuple[float, int, str]] = []  # (arrival, chat id, method) of sends let through
        self.too_many: list[tuple[float, int, str]] = []  # sends refused with 429 by the limits
        self._send_arrivals: deque[float] = deque()
        self._chat_arrivals: dict[int, deque[float]] = {}  # groups only: a private chat's pace is its gap
        self._chat_done: dict[int, float] = {}
        self._sending: set[int] = set()
        self.bot: JSON = {
            "id": 777000111,
            "is_bot": True,
            "first_name": "Feedback",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.long_poll_cap = 1.0  # seconds a getUpdates may hang here, whatever timeout it asks for
        self.calls: list[tuple[str, JSON]] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (scope key, language) -> commands
        self.webhook: JSON = {"url": ""}
        self.webhook_error: tuple[int, str] | None = None  # (date, message) of the last failed webhook call
        self.webhook_timeout = 60.0  # seconds Telegram waits for a webhook answer before trying again
        self.callback_lifetime = 15.0  # seconds a callback query can still be answered (Telegram: about 15)
        self.allowed_updates: list[str] | None = None
        self._updates: list[JSON] = []
        self.all_updates: list[JSON] = []  # every update ever handed out, confirmed or not
        self._update_ids = itertools.count(5000)
        self._message_ids: dict[int, Iterator[int]] = {}
        self._messages: dict[tuple[int, int], BotMessage] = {}
        self._chat_messages: dict[int, dict[int, BotMessage]] = {}  # the same, by chat: `messages` reads one chat
        self._user_messages: set[tuple[int, int]] = set()
        self._known_chats: set[int] = set()  # users who opened the bot; groups it is in
        self.left_chats: set[int] = set()  # groups the bot left (leaveChat)
        self.migrated: dict[int, int] = {}  # group id -> the supergroup it became
        self._forbidden: dict[int, str] = {}
        self._failures: list[_Failure] = []
        self.stalled: set[str] = set()  # methods whose calls hang (see `stall`)
        self._callbacks: dict[str, bool] = {}  # id -> answered
        self._pressed_at: dict[str, float] = {}  # id -> when the user pressed (monotonic)
        self._callback_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._notifying = False  # a notification is scheduled and has not run yet (see `_notify`)
        self._poll_generation = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ server
    async def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def close(self) -> None:
        async with self._changed:  # release getUpdates (and stalled) calls still waiting
            self.stalled.clear()
            self._poll_generation += 1
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"].lower()
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        params = await self._params(request)
        self.calls.append((method, params))
        if method in self.stalled:
            self._notify()  # the call is seen (`until`), though never answered
            await self._changed_wait(lambda: method not in self.stalled)
        chat_id = _int(params.get("chat_id")) if method in SEND_METHODS else None
        try:
            self._maybe_fail(method, params)
            result = await handler(params)
        except BotApiError as exc:
            return web.json_response(exc.payload(), status=exc.status)
        finally:
            if chat_id is not None and chat_id in self._sending:  # a send that took effect has ended
                self._sending.discard(chat_id)
                self._chat_done[chat_id] = time.monotonic()
            self._notify()  # wakes `until` and `wait_confirmed`
        return web.json_response({"ok": True, "result": result})

    def _pace(self, method: str, chat_id: int) -> None:
        """Refuse a send above Telegram's limits with 429, as Telegram's flood control does.

        Called once a request is valid, just before it takes effect: a refused payload (400) is
        refused whatever the pace.
        """
        now = time.monotonic()
        limits = self.limits
        if limits is not None:
            while self._send_arrivals and self._send_arrivals[0] <= now - 1.0:
                self._send_arrivals.popleft()
            wait = 0.0
            if len(self._send_arrivals) >= limits.per_second:
                wait = self._send_arrivals[0] + 1.0 - now
            if chat_id > 0:
                done = self._chat_done.get(chat_id)
                if done is not None and now - done < limits.private_gap:
                    wait = max(wait, done + limits.private_gap - now)
            else:
                arrivals = self._chat_arrivals.setdefault(chat_id, deque())
                while arrivals and arrivals[0] <= now - 60.0:
                    arrivals.popleft()
                if len(arrivals) >= limits.group_per_minute:
                    wait = max(wait, arrivals[0] + 60.0 - now)
            if wait > 0:
                self.too_many.append((now, chat_id, method))
                retry = max(1, math.ceil(wait))
                raise BotApiError(429, f"Too Many Requests: retry after {retry}", retry)
        self._send_arrivals.append(now)
        if chat_id <= 0:
            self._chat_arrivals.setdefault(chat_id, deque()).append(now)
        self.sends.append((now, chat_id, method))
        self._sending.add(chat_id)

    @staticmethod
    async def _params(request: web.Request) -> JSON:
        params: JSON = {k: json.loads(v) if k in _OBJECT_PARAMS else v for k, v in request.query.items()}
        if request.content_type == "application/json":
            params.update(await request.json())
            return params
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = value.file.read()
                elif key in _OBJECT_PARAMS:
                    params[key] = json.loads(value)
                else:
                    params[key] = value
        return params

    def _maybe_fail(self, method: str, params: JSON) -> None:
        chat_id = _int(params.get("chat_id"))
        for failure in self._failures:
            if failure.method != method or (failure.chat_id is not None and failure.chat_id != chat_id):
                continue
            if failure.skip > 0:
                failure.skip -= 1
                continue
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
            raise BotApiError(failure.status, failure.description, failure.retry_after)

    # ------------------------------------------------------------------ test controls: failures
    def fail(
        self,
        method: str,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
        skip: int = 0,
    ) -> None:
        """The next `times` calls of `method` (after `skip` that go through) fail with `status`."""
        self._failures.append(_Failure(method.lower(), status, description, retry_after, chat_id, times, skip))

    def stall(self, method: str) -> None:
        """Calls of `method` hang (a server that accepts and never answers) until `unstall`."""
        self.stalled.add(method.lower())

    def unstall(self, method: str) -> None:
        self.stalled.discard(method.lower())
        self._notify()

    async def _changed_wait(self, predicate: Callable[[], bool]) -> None:
        async with self._changed:
            await self._changed.wait_for(predicate)

    def flood(self, method: str = "sendMessage", retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls get 429 Too Many Requests with parameters.retry_after."""
        self.fail(method, 429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after, times=times)

    def forbid(self, chat_id: int, description: str = "Forbidden: bot was blocked by the user") -> None:
        """Every send to `chat_id` gets 403 with `description` until `allow(chat_id)`."""
        self._forbidden[chat_id] = description

    def allow(self, chat_id: int) -> None:
        self._forbidden.pop(chat_id, None)

    # ------------------------------------------------------------------ test controls: users
    def user(self, user_id: int, first_name: str, last_name: str | None = None, **kw: Any) -> FakeUser:
        return FakeUser(user_id, first_name, last_name, **kw)

    def add_group(self, chat_id: int) -> None:
        self._known_chats.add(chat_id)

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _push(self, kind: str, payload: JSON) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, kind: payload})
        self.all_updates.append(self._updates[-1])
        self._notify()
        return update_id

    def _notify(self) -> None:
        """Wake everything waiting on `_changed` (`until`, getUpdates, stalled calls) to look again.

        One notification at a time: while one is scheduled and has not run, the changes made
        meanwhile are seen by it too (the waiters look at the state after it ran), so a request
        does not schedule a task of its own for each change.
        """
        if self._notifying:
            return

        async def notify() -> None:
            async with self._changed:
                self._notifying = False
                self._changed.notify_all()

        with contextlib.suppress(RuntimeError):
            task = asyncio.get_running_loop().create_task(notify())
            self._notifying = True
            self._tasks.add(task)
            task.add_done_callback(self._notified)

    def _notified(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._notifying = False  # also when the task was cancelled before it ran

    def push_update(self, kind: str, payload: JSON) -> int:
        """Queue any update as is (malformed ones included); returns its update_id."""
        return self._push(kind, payload)

    def redeliver(self, update: JSON) -> None:
        """Hand out an already confirmed update again, as Telegram does when a confirmation got lost."""
        self._updates = sorted([*self._updates, update], key=lambda u: int(u["update_id"]))
        self._notify()

    def send_text(self, user: FakeUser, text: str, *, group: int | None = None, reply_to: int | None = None) -> int:
        """The user writes `text` (in their private chat, or in `group`); returns the message id.

        In a group the bot is not a member of (never added, or it left), Telegram tells the bot
        nothing: the message is written, no update is queued.
        """
        msg = self._user_message(user, group)
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        chat_id: int = msg["chat"]["id"]
        if reply_to is not None and (chat_id, reply_to) in self._messages:
            msg["reply_to_message"] = self._messages[(chat_id, reply_to)].as_dict(self.bot)
        self._push_from(msg)
        return int(msg["message_id"])

    def _user_message(self, user: FakeUser, group: int | None) -> JSON:
        chat: JSON = user.chat if group is None else self._group_chat(group)
        chat_id: int = chat["id"]
        if group is None:
            self._known_chats.add(user.id)
        message_id = self._next_message_id(chat_id)
        self._user_messages.add((chat_id, message_id))
        return {"message_id": message_id, "from": user.as_dict(), "chat": chat, "date": int(time.time())}

    def _push_from(self, msg: JSON) -> None:
        chat_id = int(msg["chat"]["id"])
        if chat_id < 0 and chat_id not in self._known_chats:
            return  # the bot is not in that group: it hears nothing of it
        self._push("message", msg)

    @staticmethod
    def _group_chat(group: int) -> JSON:
        return {"id": group, "type": "supergroup", "title": f"Group {group}"}

    def forward(self, user: FakeUser, text: str, *, origin: FakeUser) -> int:
        """`user` forwards `origin`'s message `text` to the bot (forward_origin of type "user")."""
        msg = self._user_message(user, None)
        msg["text"] = text
        msg["forward_origin"] = {"type": "user", "date": int(time.time()) - 3600, "sender_user": origin.as_dict()}
        self._push_from(msg)
        return int(msg["message_id"])

    def send_photo(self, user: FakeUser, caption: str | None = None, *, media_group: str | None = None) -> int:
        """A photo from `user` (part of an album when `media_group` is given: each photo is its own message)."""
        msg = self._user_message(user, None)
        msg["photo"] = [{"file_id": f"p{msg['message_id']}", "file_unique_id": "pu", "width": 90, "height": 90}]
        if caption is not None:
            if utf16_len(caption) > 1024:
                raise ValueError("Telegram clients refuse captions over 1,024 characters")
            msg["caption"] = caption
        if media_group is not None:
            msg["media_group_id"] = media_group
        self._push_from(msg)
        return int(msg["message_id"])

    def send_album(self, user: FakeUser, photos: int, caption: str | None = None) -> list[int]:
        """An album: `photos` messages sharing a media_group_id; a caption goes on the first, as clients do."""
        group = f"album{next(self._update_ids)}"
        return [self.send_photo(user, caption if i == 0 else None, media_group=group) for i in range(photos)]

    def migrate_group(self, group: int, supergroup: int, *, by: FakeUser, announce: bool = True) -> None:
        """`group` is upgraded to a supergroup with the new id `supergroup`, as Telegram does: sends to the
        old id fail with migrate_to_chat_id from now on; `announce`: the bot also gets both service
        messages (migrate_to_chat_id in the old chat, migrate_from_chat_id in the new one)."""
        self.migrated[group] = supergroup
        self._known_chats.add(supergroup)
        if not announce:
            return
        old_chat: JSON = {"id": group, "type": "group", "title": f"Group {group}"}
        for chat, field_name, value in (
            (old_chat, "migrate_to_chat_id", supergroup),
            (self._group_chat(supergroup), "migrate_from_chat_id", group),
        ):
            message_id = self._next_message_id(int(chat["id"]))
            msg: JSON = {"message_id": message_id, "from": by.as_dict(), "chat": chat, "date": int(time.time())}
            self._push("message", msg | {field_name: value})

    def add_to_group(self, user: FakeUser, group: int) -> int:
        """`user` adds the bot to `group`: the bot gets a my_chat_member update (left -> member)."""
        self._known_chats.add(group)
        self.left_chats.discard(group)
        change = {"chat": self._group_chat(group), "from": user.as_dict(), "date": int(time.time())}
        change |= {"old_chat_member": {"user": self.bot, "status": "left"}}
        change |= {"new_chat_member": {"user": self.bot, "status": "member"}}
        return self._push("my_chat_member", change)

    def send_anonymous(self, group: int, text: str) -> int:
        """An anonymous group admin writes: Telegram names GroupAnonymousBot as the sender, the group as sender_chat."""
        chat = self._group_chat(group)
        message_id = self._next_message_id(group)
        msg: JSON = {"message_id": message_id, "from": ANONYMOUS_ADMIN, "sender_chat": chat, "chat": chat}
        msg |= {"date": int(time.time()), "text": text}
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        self._push_from(msg)
        return message_id

    def edit_text(self, user: FakeUser, message_id: int, text: str) -> None:
        assert (user.id, message_id) in self._user_messages, "users can only edit their own messages"
        msg = {"message_id": message_id, "from": user.as_dict(), "chat": user.chat, "text": text}
        msg |= {"date": int(time.time()) - 5, "edit_date": int(time.time())}
        self._push("edited_message", msg)

    def send_sticker(self, user: FakeUser) -> int:
        self._known_chats.add(user.id)
        message_id = self._next_message_id(user.id)
        sticker = {"file_id": "s1", "file_unique_id": "s1u", "type": "regular", "width": 512, "height": 512}
        sticker |= {"is_animated": False, "is_video": False}
        msg = {"message_id": message_id, "from": user.as_dict(), "chat": user.chat, "date": int(time.time())}
        self._push("message", msg | {"sticker": sticker})
        return message_id

    def press(self, user: FakeUser, message: BotMessage, data: str) -> str:
        """The user taps the button with `data` under `message` (it must still be shown)."""
        current = self._messages[(message.chat_id, message.message_id)]
        assert data in [d for _, d in current.buttons], f"no button {data!r} on message {message.message_id}"
        query_id = f"cq{next(self._callback_ids)}"
        self._callbacks[query_id] = False
        self._pressed_at[query_id] = time.monotonic()
        query = {"id": query_id, "from": user.as_dict(), "chat_instance": "ci-1", "data": data}
        self._push("callback_query", query | {"message": current.as_dict(self.bot)})
        return query_id

    def _member_update(self, user: FakeUser, old: str, new: str) -> None:
        bot_member: JSON = {"user": self.bot, "status": old}
        new_member: JSON = {"user": self.bot, "status": new}
        for member in (bot_member, new_member):
            if member["status"] == "kicked":
                member["until_date"] = 0
        change = {"chat": user.chat, "from": user.as_dict(), "date": int(time.time())}
        self._push("my_chat_member", change | {"old_chat_member": bot_member, "new_chat_member": new_member})

    def block(self, user: FakeUser) -> None:
        self._forbidden[user.id] = "Forbidden: bot was blocked by the user"
        self._member_update(user, "member", "kicked")

    def unblock(self, user: FakeUser) -> None:
        self._forbidden.pop(user.id, None)
        self._member_update(user, "kicked", "member")

    # ------------------------------------------------------------------ test controls: observing
    def messages(self, chat_id: int) -> list[BotMessage]:
        return [m for _, m in sorted(self._chat_messages.get(chat_id, {}).items())]

    def texts(self, chat_id: int) -> list[str]:
        return [m.shown for m in self.messages(chat_id)]

    def last(self, chat_id: int) -> BotMessage:
        messages = self.messages(chat_id)
        assert messages, f"the bot sent nothing to {chat_id}"
        return messages[-1]

    def calls_to(self, method: str) -> list[JSON]:
        return [params for name, params in self.calls if name == method.lower()]

    def unanswered_callbacks(self) -> list[str]:
        return [query_id for query_id, answered in self._callbacks.items() if not answered]

    @property
    def pending_updates(self) -> list[JSON]:
        return list(self._updates)

    async def until(self, predicate: Callable[[], object], within: float = 5.0) -> None:
        """Wait until `predicate()` holds; it is checked again after every request the bot makes."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_confirmed(self, within: float = 5.0) -> None:
        """Until every update handed to users so far was confirmed by a later getUpdates offset."""
        await self.until(lambda: not self._updates, within)

    async def deliver_webhook(self, url: str, secret: str | None = None) -> list[int]:
        """POST pending updates to `url` like Telegram does; 2xx answers confirm them. Returns statuses.

        A call not answered within `webhook_timeout` (Telegram: 60 s; status 0 here) or answered with
        anything but 2xx leaves the update pending, to be posted again next time; `getWebhookInfo` then
        shows the error as `last_error_message`.
        """
        token = self.webhook.get("secret_token") if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        statuses = []
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for update in list(self._updates):
                try:
                    async with session.post(url, json=update, headers=headers) as response:
                        statuses.append(response.status)
                        if 200 <= response.status < 300:
                            self._updates.remove(update)
                        else:
                            self.webhook_error = (
                                int(time.time()),
                                f"Wrong response from the webhook: {response.status}",
                            )
                except TimeoutError:
                    statuses.append(0)  # no answer in time: the update stays and is posted again
                    self.webhook_error = (int(time.time()), "Read timeout expired")
                except aiohttp.ClientConnectionError:
                    statuses.append(0)
                    self.webhook_error = (int(time.time()), "Connection refused")
        return statuses

    # ------------------------------------------------------------------ validation helpers
    def _chat(self, params: JSON) -> int:
        if "chat_id" not in params or params["chat_id"] in ("", None):
            raise BotApiError(400, "Bad Request: chat_id is empty")
        chat_id = _int(params["chat_id"])
        if chat_id is None:
            raise BotApiError(400, "Bad Request: chat not found")
        if chat_id in self.migrated:
            raise BotApiError(
                400, "Bad Request: group chat was upgraded to a supergroup chat", None, self.migrated[chat_id]
            )
        if chat_id in self._forbidden:
            raise BotApiError(403, self._forbidden[chat_id])
        if chat_id not in self._known_chats:
            if chat_id > 0:
                raise BotApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise BotApiError(400, "Bad Request: chat not found")
        return chat_id

    @staticmethod
    def _markup(params: JSON) -> JSON | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise BotApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return dict(markup)

    def _reply_to(self, chat_id: int, params: JSON) -> int | None:
        reply = params.get("reply_parameters")
        if not reply:
            return None
        message_id = int(reply["message_id"])
        known = (chat_id, message_id) in self._messages or (chat_id, message_id) in self._user_messages
        if not known and not reply.get("allow_sending_without_reply"):
            raise BotApiError(400, "Bad Request: message to be replied not found")
        return message_id

    @staticmethod
    def _parse_mode(params: JSON) -> str | None:
        mode = params.get("parse_mode")
        if mode not in (None, "HTML", "Markdown", "MarkdownV2"):
            raise BotApiError(400, f"Bad Request: unsupported parse_mode {mode}")
        return mode

    def _stored(self, params: JSON) -> BotMessage:
        chat_id = self._chat(params)
        message = self._messages.get((chat_id, int(params.get("message_id", 0))))
        if message is None:
            raise BotApiError(400, "Bad Request: message to edit not found")
        return message

    def _store(self, message: BotMessage) -> JSON:
        self._messages[(message.chat_id, message.message_id)] = message
        self._chat_messages.setdefault(message.chat_id, {})[message.message_id] = message
        return message.as_dict(self.bot)

    # ------------------------------------------------------------------ Bot API methods
    async def _m_getme(self, params: JSON) -> JSON:
        return self.bot

    async def _m_getupdates(self, params: JSON) -> list[JSON]:
        if self.webhook.get("url"):
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                "the webhook first",
            )
        offset = int(params.get("offset", 0))
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._notify()
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"]) or None
        limit = int(params.get("limit", 100))
        timeout = min(float(params.get("timeout", 0)), self.long_poll_cap)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older getUpdates still waiting is cut off with 409, as Telegram does
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: bool(self._visible(offset)) or generation != self._poll_generation)
        if generation != self._poll_generation:
            raise BotApiError(
                409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
            )
        return self._visible(offset)[:limit]

    def _visible(self, offset: int) -> list[JSON]:
        allowed = self.allowed_updates
        kinds = allowed if allowed else ["message", "edited_message", "callback_query", "my_chat_member"]
        return [u for u in self._updates if u["update_id"] >= offset and any(k in u for k in kinds)]

    async def _m_sendmessage(self, params: JSON) -> JSON:
        chat_id = self._chat(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise BotApiError(400, "Bad Request: message is too long")
        markup, mode = self._markup(params), self._parse_mode(params)
        self._pace("sendMessage", chat_id)
        message = BotMessage(chat_id, self._next_message_id(chat_id), "sendMessage", text=text, reply_markup=markup)
        message.reply_to, message.parse_mode = self._reply_to(chat_id, params), mode
        return self._store(message)

    async def _m_sendphoto(self, params: JSON) -> JSON:
        chat_id = self._chat(params)
        photo = params.get("photo")
        if not isinstance(photo, bytes) or not photo:
            raise BotApiError(400, "Bad Request: there is no photo in the request")
        caption = params.get("caption")
        if caption is not None and utf16_len(str(caption)) > 1024:
            raise BotApiError(400, "Bad Request: message caption is too long")
        markup, mode = self._markup(params), self._parse_mode(params)
        self._pace("sendPhoto", chat_id)
        message = BotMessage(chat_id, self._next_message_id(chat_id), "sendPhoto", caption=caption, photo=photo)
        message.reply_markup, message.parse_mode = markup, mode
        message.reply_to = self._reply_to(chat_id, params)
        return self._store(message)

    async def _m_editmessagetext(self, params: JSON) -> JSON:
        message = self._stored(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise BotApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = self._markup(params)
        if message.text == text and message.reply_markup == markup:
            raise BotApiError(400, NOT_MODIFIED)
        self._pace("editMessageText", message.chat_id)
        message.text, message.reply_markup = text, markup
        return message.as_dict(self.bot)

    async def _m_editmessagereplymarkup(self, params: JSON) -> JSON:
        message = self._stored(params)
        markup = self._markup(params)
        if message.reply_markup == markup:
            raise BotApiError(400, NOT_MODIFIED)
        self._pace("editMessageReplyMarkup", message.chat_id)
        message.reply_markup = markup
        return message.as_dict(self.bot)

    async def _m_leavechat(self, params: JSON) -> bool:
        chat_id = _int(params.get("chat_id"))
        if chat_id is None:
            raise BotApiError(400, "Bad Request: chat not found")
        if chat_id > 0:
            raise BotApiError(400, "Bad Request: CHAT_TYPE_INVALID")
        if chat_id not in self._known_chats:
            raise BotApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        self._known_chats.discard(chat_id)
        self.left_chats.add(chat_id)
        return True

    async def _m_answercallbackquery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        pressed = self._pressed_at.get(query_id)
        expired = pressed is not None and time.monotonic() - pressed > self.callback_lifetime
        if self._callbacks.get(query_id, True) or expired:
            raise BotApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text", ""))) > 200:
            raise BotApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._callbacks[query_id] = True
        return True

    @staticmethod
    def _scope_key(scope: JSON | None) -> str:
        scope = scope or {"type": "default"}
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            return f"{scope['type']}:{scope['chat_id']}" + (f":{scope['user_id']}" if "user_id" in scope else "")
        return str(scope["type"])

    def _check_scope(self, scope: JSON | None) -> str:
        chat_id = _int(scope["chat_id"]) if scope and "chat_id" in scope else None
        if chat_id is not None and chat_id in self.migrated:
            raise BotApiError(
                400, "Bad Request: group chat was upgraded to a supergroup chat", None, self.migrated[chat_id]
            )
        if chat_id is not None and chat_id not in self._known_chats:
            raise BotApiError(400, "Bad Request: chat not found")
        return self._scope_key(scope)

    async def _m_setmycommands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise BotApiError(400, "Bad Request: commands must be a list of at most 100 commands")
        for command in commands:
            if not _COMMAND_NAME.match(str(command.get("command", ""))):
                raise BotApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise BotApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._check_scope(params.get("scope"))
        self.commands[(key, self._language_code(params))] = commands
        return True

    @staticmethod
    def _language_code(params: JSON) -> str:
        code = str(params.get("language_code") or "")
        if code and not _LANGUAGE_CODE.match(code):
            raise BotApiError(400, "Bad Request: LANG_CODE_INVALID")
        return code

    async def _m_deletemycommands(self, params: JSON) -> bool:
        key = self._check_scope(params.get("scope"))
        self.commands.pop((key, self._language_code(params)), None)
        return True

    async def _m_getmycommands(self, params: JSON) -> list[JSON]:
        key = self._check_scope(params.get("scope"))
        return self.commands.get((key, self._language_code(params)), [])

    async def _m_setwebhook(self, params: JSON) -> bool:
        url = str(params.get("url", ""))
        if url and not url.startswith("https://"):
            raise BotApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if url:
            try:
                port = urlsplit(url).port or 443
            except ValueError:
                port = -1
            if port not in WEBHOOK_PORTS:
                raise BotApiError(
                    400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
                )
        secret = params.get("secret_token")
        if secret is not None and not _SECRET.match(str(secret)):
            raise BotApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = _int(params.get("max_connections", 40))
        if max_connections is None or not 1 <= max_connections <= 100:
            raise BotApiError(400, "Bad Request: bad webhook: max_connections must be between 1 and 100")
        self.webhook = {"url": url, "secret_token": secret, "max_connections": max_connections}
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"]) or None
        self._poll_generation += 1  # a pending getUpdates is cut off
        self._notify()
        return True

    async def _m_deletewebhook(self, params: JSON) -> bool:
        self.webhook = {"url": ""}
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._updates.clear()
        return True

    async def _m_getwebhookinfo(self, params: JSON) -> JSON:
        info: JSON = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.get("url"):
            info["max_connections"] = self.webhook.get("max_connections", 40)
        if self.webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self.webhook_error
        return info


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
