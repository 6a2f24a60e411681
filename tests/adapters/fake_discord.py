"""A fake Discord on 127.0.0.1: the REST routes discord.py and our adapter use, and the gateway websocket.

It is as strict as Discord where our code could go wrong: the bot token on every REST call (401
otherwise), message content <= 2,000 characters, custom ids <= 100, <= 5 buttons per row and 5 rows,
modal titles <= 45, one initial response per interaction (40060), the 3-second answer window (10062,
and the interaction is recorded as late), interaction tokens that expire (15 minutes, 401 50027;
`token_lifetime` shortens it), 50007 for users whose DMs are closed, no privileged gateway intents,
and Discord's documented rate limits by default (fake_discord_limits.py; more 429s on demand).

The gateway delivers an event only to connected sessions: a DM sent while no bot is connected is
dropped (`dropped_events`) and only the channel history has it (`GET /channels/{id}/messages`); a
session closed uncleanly keeps its missed events for a RESUME of that session, as Discord does.
`send_reconnect` (op 7) and `invalidate_sessions` (op 9) do what Discord does on its side;
`close_identify_with` closes every IDENTIFY with a code (4004 token reset, 4014 intents).

Servers have owners, roles and members; staff and manager commands carry
`default_member_permissions`, so `slash` refuses (HiddenCommand) what a member would not see, unless
the owner allowed them (`allow_commands`, Server Settings -> Integrations).

Tests act as Discord users: `dm`, `edit`, `slash`, `autocomplete`, `press`, `submit_modal`; and read
what the bot did: `conversation(user)`, `interactions`, `requests`, `invalid_requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

from tests.adapters.fake_discord_limits import DiscordLimits

API = "/api/v10"
ANSWER_WINDOW = 3.0
TOKEN_LIFETIME = 15 * 60.0
EPHEMERAL = 1 << 6
DISCORD_EPOCH_MS = 1_420_070_400_000
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT

Json = dict[str, Any]


# Discord's locales (developer docs, "Locales"): interactions carry one, localizations are keyed by them.
LOCALES = frozenset(
    "id da de en-GB en-US es-ES es-419 fr hr it lt hu nl no pl pt-BR ro fi sv-SE vi tr cs el bg ru uk hi th "
    "zh-CN ja zh-TW ko".split()
)


def _check_localizations(item: Json, where: str) -> None:
    """`description_localizations`: Discord locales only, each description 1-100 characters."""
    for locale, text in (item.get("description_localizations") or {}).items():
        if locale not in LOCALES:
            raise invalid_form(f"{where}description_localizations.{locale}", "Invalid locale")
        if not isinstance(text, str) or not 1 <= len(text) <= 100:
            raise invalid_form(f"{where}description_localizations.{locale}", "Must be between 1 and 100 in length.")


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self) -> web.Response:
        body: Json = {"code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return json_response(body, status=self.status)


class HiddenCommand(AssertionError):
    """Discord does not show this command to this member (default_member_permissions)."""


def invalid_form(path: str, message: str) -> DiscordError:
    return DiscordError(
        400, 50035, "Invalid Form Body", {path: {"_errors": [{"code": "BASE_TYPE", "message": message}]}}
    )


def json_response(body: object, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """Exactly `application/json`, no charset: discord.py parses only that content type as JSON."""
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={**(headers or {}), "Content-Type": "application/json"}
    )


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class FakeUser:
    id: int
    name: str
    dms_closed: bool = False  # DMs closed or the bot blocked: sending gives 50007
    bot: bool = False
    locale: str = "en-GB"  # the language of their Discord app, sent with each interaction

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


EVERYONE_PERMISSIONS = 1071698660929  # view channels, send messages... (no manage_guild, no administrator)
ADMINISTRATOR = 1 << 3


@dataclass
class FakeGuild:
    id: int
    name: str
    roles: dict[int, str] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)  # user id -> role ids
    channels: dict[int, str] = field(default_factory=dict)
    owner_id: int | None = None  # the owner has every permission and sees every command
    # Server Settings -> Integrations: roles and users allowed to use commands hidden by
    # default_member_permissions (the owner's overrides).
    command_access: set[int] = field(default_factory=set)

    def role_id(self, name: str) -> int:
        return next(rid for rid, rname in self.roles.items() if rname == name)

    def permissions(self, user_id: int) -> int:
        if user_id == self.owner_id:
            return (1 << 53) - 1
        return EVERYONE_PERMISSIONS

    def may_use(self, user_id: int, command: Json) -> bool:
        """Whether Discord shows (and lets a member run) `command` in this server."""
        required = command.get("default_member_permissions")
        if required is None:
            return True
        perms = self.permissions(user_id)
        if perms & ADMINISTRATOR or perms & int(required) == int(required):  # a string or a number
            return True
        return bool(self.command_access & {user_id, *self.members.get(user_id, [])})


@dataclass
class FakeInteraction:
    id: int
    token: str
    type: int
    user: FakeUser
    channel_id: int
    guild_id: int | None
    created: float
    message_id: int | None = None  # the message a component or modal submit came from
    name: str = ""  # command name or custom id
    callbacks: list[tuple[int, Json]] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)  # error codes of refused responses
    responded_at: float | None = None
    original_id: int | None = None
    followups: list[Json] = field(default_factory=list)

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0][0] if self.callbacks else None

    @property
    def modal(self) -> Json | None:
        return self.callbacks[0][1] if self.response_type == 9 else None

    @property
    def choices(self) -> list[Json]:
        return list(self.callbacks[0][1].get("choices", [])) if self.response_type == 8 else []

    def late(self, now: float, window: float = ANSWER_WINDOW) -> bool:
        if self.responded_at is None:
            return now - self.created > window
        return self.responded_at - self.created > window


@dataclass
class _Session:
    id: str
    ws: web.WebSocketResponse | None
    missed: list[tuple[str, Json]] = field(default_factory=list)  # while disconnected, for a RESUME


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    at: float
    query: str = ""


@dataclass
class _RateLimit:
    method: str
    path: re.Pattern[str]
    retry_after: float
    times: int
    is_global: bool


def _rows(components: list[Json]) -> list[Json]:
    return [row for row in components if row.get("type") == 1]


def buttons(message: Json) -> list[Json]:
    return [c for row in _rows(message.get("components") or []) for c in row.get("components", [])]


class FakeDiscord:
    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self._last_id = 0
        self.application_id = self.new_id()
        self.bot = FakeUser(self.application_id, "FeedBot", bot=True)
        self.users: dict[int, FakeUser] = {self.bot.id: self.bot}
        self.guilds: dict[int, FakeGuild] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.messages: dict[int, Json] = {}
        self.ephemeral_owner: dict[int, int] = {}  # ephemeral message id -> the user who sees it
        self.interactions: dict[int, FakeInteraction] = {}
        self.commands: dict[int | None, list[Json]] = {}  # guild id (None: global) -> registered commands
        self.requests: list[RequestRecord] = []
        self.invalid_requests = 0  # 401, 403 and 429 answers: Discord bans an IP past 10,000 in 10 minutes
        self.identify: list[Json] = []
        self.allow_privileged_intents = False
        self.bot_public = True  # Discord's default for a new application
        self.close_identify_with: int | None = None  # a gateway close code for every IDENTIFY (4004, 4014...)
        self.answer_window = ANSWER_WINDOW  # Discord's 3 seconds; tests may shorten it
        self.token_lifetime = TOKEN_LIFETIME  # an interaction's follow-ups: 15 minutes; tests may shorten it
        self._rate_limits: list[_RateLimit] = []  # one-off 429s a test asks for
        self.limits = DiscordLimits()  # Discord's documented limits, on by default
        self.too_many_requests = 0  # 429s from those limits
        self._failures: list[tuple[str, re.Pattern[str], DiscordError, list[int]]] = []
        self.sessions: dict[str, _Session] = {}
        self.resumes: list[str] = []  # session ids the bot asked to RESUME
        self.dropped_events: list[str] = []  # events no session received (no bot connected)
        self._seq = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    def new_id(self) -> int:
        """A snowflake: milliseconds since Discord's epoch (2015) << 22, so discord.py reads real times."""
        self._last_id = max(self._last_id + 1, (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22)
        return self._last_id

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        r = app.router
        r.add_get(f"{API}/users/@me", self._get_me)
        r.add_get(f"{API}/users/{{user_id}}", self._get_user)
        r.add_get(f"{API}/applications/@me", self._get_application)
        r.add_get(f"{API}/oauth2/applications/@me", self._get_application)
        r.add_get(f"{API}/gateway", self._get_gateway)
        r.add_get(f"{API}/gateway/bot", self._get_gateway)
        r.add_put(f"{API}/applications/{{app_id}}/commands", self._put_commands)
        r.add_put(f"{API}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self._put_commands)
        r.add_get(f"{API}/applications/{{app_id}}/commands", self._get_commands)
        r.add_post(f"{API}/users/@me/channels", self._create_dm)
        r.add_get(f"{API}/guilds/{{guild_id}}/roles", self._get_roles)
        r.add_get(f"{API}/channels/{{channel_id}}", self._get_channel)
        r.add_post(f"{API}/channels/{{channel_id}}/messages", self._post_message)
        r.add_get(f"{API}/channels/{{channel_id}}/messages", self._get_messages)
        r.add_patch(f"{API}/channels/{{channel_id}}/messages/{{message_id}}", self._patch_message)
        r.add_post(f"{API}/interactions/{{interaction_id}}/{{token}}/callback", self._callback)
        r.add_post(f"{API}/webhooks/{{app_id}}/{{token}}", self._followup)
        r.add_get(f"{API}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}", self._get_webhook_message)
        r.add_patch(f"{API}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}", self._patch_webhook_message)
        r.add_delete(f"{API}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}", self._delete_webhook_message)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ world building
    def add_user(self, name: str, *, dms_closed: bool = False, locale: str = "en-GB") -> FakeUser:
        if locale not in LOCALES:
            raise AssertionError(f"Discord has no locale {locale!r}")
        user = FakeUser(self.new_id(), name, dms_closed=dms_closed, locale=locale)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, roles: tuple[str, ...] = (), channels: tuple[str, ...] = ("general",)) -> FakeGuild:
        gid = self.new_id()
        guild = FakeGuild(gid, name, roles={gid: "@everyone"})
        for role in roles:
            guild.roles[self.new_id()] = role
        for channel in channels:
            guild.channels[self.new_id()] = channel
        guild.members[self.bot.id] = []
        self.guilds[gid] = guild
        return guild

    def add_member(self, guild: FakeGuild, user: FakeUser, roles: tuple[str, ...] = (), *, owner: bool = False) -> None:
        guild.members[user.id] = [guild.role_id(r) for r in roles]
        if owner:
            guild.owner_id = user.id

    def allow_commands(
        self, guild: FakeGuild, *, roles: tuple[str, ...] = (), users: tuple[FakeUser, ...] = ()
    ) -> None:
        """The owner lets these roles and users use the commands hidden from ordinary members."""
        guild.command_access |= {guild.role_id(r) for r in roles} | {u.id for u in users}

    def channel_id(self, guild: FakeGuild, name: str = "general") -> int:
        return next(cid for cid, cname in guild.channels.items() if cname == name)

    def dm_channel(self, user: FakeUser) -> int:
        if user.id not in self.dm_channels:
            self.dm_channels[user.id] = self.new_id()
        return self.dm_channels[user.id]

    def rate_limit(
        self, method: str, path_regex: str, retry_after: float, *, times: int = 1, is_global: bool = False
    ) -> None:
        """The next `times` matching requests get a 429 asking to wait `retry_after` seconds."""
        self._rate_limits.append(_RateLimit(method, re.compile(path_regex), retry_after, times, is_global))

    def fail(self, method: str, path_regex: str, status: int, code: int, message: str, *, times: int = 1) -> None:
        """The next `times` matching requests fail with this Discord error."""
        self._failures.append((method, re.compile(path_regex), DiscordError(status, code, message), [times]))

    # ------------------------------------------------------------------ payloads
    def _role_payload(self, guild: FakeGuild, rid: int, position: int) -> Json:
        return {
            "id": str(rid),
            "name": guild.roles[rid],
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(EVERYONE_PERMISSIONS) if rid == guild.id else "0",
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _member_payload(self, guild: FakeGuild, user: FakeUser) -> Json:
        return {
            "user": user.payload(),
            "nick": None,
            "avatar": None,
            "roles": [str(r) for r in guild.members.get(user.id, [])],
            "joined_at": "2025-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "permissions": str(guild.permissions(user.id)),
            "communication_disabled_until": None,
        }

    def _channel_payload(self, channel_id: int) -> Json:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return {
                    "id": str(channel_id),
                    "type": 0,
                    "guild_id": str(guild.id),
                    "name": guild.channels[channel_id],
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                    "topic": None,
                    "rate_limit_per_user": 0,
                    "last_message_id": None,
                    "flags": 0,
                }
        for user_id, dm in self.dm_channels.items():
            if dm == channel_id:
                return {
                    "id": str(dm),
                    "type": 1,
                    "last_message_id": None,
                    "recipients": [self.users[user_id].payload()],
                    "flags": 0,
                }
        raise DiscordError(404, 10003, "Unknown Channel")

    def _guild_payload(self, guild: FakeGuild) -> Json:
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id or next(iter(u for u in guild.members if u != self.bot.id), self.bot.id)),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [self._role_payload(guild, rid, i) for i, rid in enumerate(guild.roles)],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": "2025-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "voice_states": [],
            "members": [self._member_payload(guild, self.users[uid]) for uid in guild.members],
            "channels": [self._channel_payload(cid) for cid in guild.channels],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _message_payload(
        self,
        *,
        channel_id: int,
        author: FakeUser,
        content: str,
        components: list[Json] | None = None,
        attachments: list[Json] | None = None,
        flags: int = 0,
        webhook_id: int | None = None,
    ) -> Json:
        message: Json = {
            "id": str(self.new_id()),
            "channel_id": str(channel_id),
            "author": author.payload(),
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments or [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": flags,
            "components": components or [],
            "sticker_items": [],
        }
        if webhook_id is not None:
            message["webhook_id"] = str(webhook_id)
            message["application_id"] = str(self.application_id)
        guild = self._guild_of(channel_id)
        if guild is not None:
            message["guild_id"] = str(guild.id)
        return message

    def _guild_of(self, channel_id: int) -> FakeGuild | None:
        return next((g for g in self.guilds.values() if channel_id in g.channels), None)

    # ------------------------------------------------------------------ validation (as strict as Discord)
    def _validate_message(self, body: Json, *, where: str = "") -> None:
        content = body.get("content")
        if content is not None and len(content) > 2000:
            raise invalid_form(f"{where}content", "Must be 2000 or fewer in length.")
        rows = body.get("components") or []
        if len(rows) > 5:
            raise invalid_form(f"{where}components", "Must be 5 or fewer in length.")
        seen: set[str] = set()
        for i, row in enumerate(rows):
            if row.get("type") != 1:
                raise invalid_form(f"{where}components.{i}.type", "Top-level components must be action rows.")
            items = row.get("components", [])
            if not 1 <= len(items) <= 5:
                raise invalid_form(f"{where}components.{i}.components", "Must be between 1 and 5 in length.")
            for j, item in enumerate(items):
                custom_id = item.get("custom_id")
                if custom_id is None and item.get("style") != 5:
                    raise invalid_form(f"{where}components.{i}.components.{j}.custom_id", "A custom id is required.")
                if custom_id is not None:
                    if not 1 <= len(custom_id) <= 100:
                        raise invalid_form(
                            f"{where}components.{i}.components.{j}.custom_id", "Must be between 1 and 100 in length."
                        )
                    if custom_id in seen:
                        raise invalid_form(f"{where}components.{i}.components.{j}.custom_id", "Duplicate custom id.")
                    seen.add(custom_id)
                if len(item.get("label") or "") > 80:
                    raise invalid_form(f"{where}components.{i}.components.{j}.label", "Must be 80 or fewer in length.")

    def _validate_modal(self, data: Json) -> None:
        if not 1 <= len(data.get("title") or "") <= 45:
            raise invalid_form("data.title", "Must be between 1 and 45 in length.")
        if not 1 <= len(data.get("custom_id") or "") <= 100:
            raise invalid_form("data.custom_id", "Must be between 1 and 100 in length.")
        inputs = self._modal_inputs(data.get("components") or [])
        if not 1 <= len(inputs) <= 5:
            raise invalid_form("data.components", "Must be between 1 and 5 in length.")
        for text_input in inputs:
            if int(text_input.get("max_length") or 4000) > 4000:
                raise invalid_form("data.components.max_length", "Must be 4000 or less.")
            if len(text_input.get("custom_id") or "") > 100:
                raise invalid_form("data.components.custom_id", "Must be 100 or fewer in length.")

    @staticmethod
    def _modal_inputs(components: list[Json]) -> list[Json]:
        found: list[Json] = []
        for component in components:
            if component.get("type") == 1:
                found += [c for c in component.get("components", []) if c.get("type") == 4]
            elif component.get("type") == 18:  # label wrapping one component
                inner = component.get("component", {})
                if inner.get("type") == 4:
                    found.append({**inner, "label": component.get("label")})
        return found

    # ------------------------------------------------------------------ middleware and helpers
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        path = request.path
        needs_auth = path.startswith(API) and not (
            path.startswith(f"{API}/webhooks/") or path.startswith(f"{API}/interactions/")
        )
        response: web.StreamResponse
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            response = json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        elif (limited := self._take_rate_limit(request.method, path)) is not None:
            response = self._too_many(limited)
        elif (verdict := self.limits.check(request.method, path)).retry_after is not None:
            self.too_many_requests += 1
            rule = _RateLimit(request.method, re.compile(""), verdict.retry_after, 0, verdict.is_global)
            response = self._too_many(rule, verdict.headers)
        elif (failure := self._take_failure(request.method, path)) is not None:
            response = failure.response()
        else:
            try:
                response = await handler(request)
            except DiscordError as exc:
                response = exc.response()
            response.headers.update(verdict.headers)
        if response.status in (401, 403, 429):
            self.invalid_requests += 1
        if path != "/gateway":
            self.requests.append(
                RequestRecord(request.method, path, response.status, time.monotonic(), request.query_string)
            )
        async with self._changed:
            self._changed.notify_all()
        return response

    def _take_rate_limit(self, method: str, path: str) -> _RateLimit | None:
        for rule in self._rate_limits:
            if rule.times > 0 and rule.method == method and rule.path.search(path):
                rule.times -= 1
                return rule
        return None

    def _take_failure(self, method: str, path: str) -> DiscordError | None:
        for rule_method, pattern, error, left in self._failures:
            if left[0] > 0 and rule_method == method and pattern.search(path):
                left[0] -= 1
                return error
        return None

    @staticmethod
    def _too_many(rule: _RateLimit, bucket: Mapping[str, str] | None = None) -> web.Response:
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(rule.retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + rule.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{rule.retry_after:.3f}",
            "X-RateLimit-Bucket": "fakebucket",
            "X-RateLimit-Scope": "global" if rule.is_global else "user",
        }
        if bucket:
            headers.update(bucket)
        if rule.is_global:
            headers["X-RateLimit-Global"] = "true"
            for key in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Bucket"):
                headers.pop(key, None)  # a global 429 names no bucket
        body = {"message": "You are being rate limited.", "retry_after": rule.retry_after, "global": rule.is_global}
        return json_response(body, status=429, headers=headers)

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Json, list[Json]]:
        """JSON body, or multipart with payload_json and files[n]; returns (payload, attachments)."""
        if request.content_type.startswith("multipart/"):
            payload: Json = {}
            files: list[Json] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                elif part.name and part.name.startswith("files["):
                    data = await part.read()
                    files.append(
                        {
                            "filename": part.filename,
                            "size": len(data),
                            "content_type": part.headers.get("Content-Type"),
                            "data": bytes(data),
                        }
                    )
            return payload, files
        text = await request.text()
        return (json.loads(text) if text else {}), []

    def _attachments(self, files: list[Json]) -> list[Json]:
        out = []
        for f in files:
            aid = self.new_id()
            out.append(
                {
                    "id": str(aid),
                    "filename": f["filename"],
                    "size": f["size"],
                    "content_type": f["content_type"],
                    "url": f"http://127.0.0.1:{self.port}/attachments/{aid}/{f['filename']}",
                    "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{aid}/{f['filename']}",
                    "_data": f["data"],
                }
            )
        return out

    @staticmethod
    def _public(message: Json) -> Json:
        """A message as Discord returns it (without our test-only keys)."""
        out = dict(message)
        out["attachments"] = [{k: v for k, v in a.items() if not k.startswith("_")} for a in message["attachments"]]
        return out

    def _store(self, message: Json) -> Json:
        self.messages[int(message["id"])] = message
        return self._public(message)

    def _interaction_by_token(self, token: str) -> FakeInteraction:
        for ix in self.interactions.values():
            if ix.token == token:
                if time.monotonic() - ix.created > self.token_lifetime:
                    raise DiscordError(401, 50027, "Invalid Webhook Token")  # an interaction token lives 15 min
                return ix
        raise DiscordError(404, 10015, "Unknown Webhook")

    # ------------------------------------------------------------------ REST: session
    async def _get_me(self, request: web.Request) -> web.Response:
        return json_response({**self.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0})

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return json_response(user.payload())

    async def _get_application(self, request: web.Request) -> web.Response:
        owner = FakeUser(self.new_id(), "owner")
        return json_response(
            {
                "id": str(self.application_id),
                "name": "FeedBot",
                "description": "",
                "icon": None,
                "bot_public": self.bot_public,
                "bot_require_code_grant": False,
                "owner": owner.payload(),
                "verify_key": "0" * 64,
                "flags": 0,
                "summary": "",
                "team": None,
                "interactions_endpoint_url": None,
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
            }
        )

    async def _put_commands(self, request: web.Request) -> web.Response:
        if int(request.match_info["app_id"]) != self.application_id:
            raise DiscordError(403, 50001, "Missing Access")
        guild_id = int(request.match_info["guild_id"]) if "guild_id" in request.match_info else None
        if guild_id is not None and guild_id not in self.guilds:
            raise DiscordError(403, 50001, "Missing Access")
        body = await request.json()
        registered = []
        for command in body:
            if not re.fullmatch(r"[-_\w]{1,32}", command["name"]) or command["name"] != command["name"].lower():
                raise invalid_form("name", "Command name is invalid")
            if not 1 <= len(command.get("description", "")) <= 100:
                raise invalid_form("description", "Must be between 1 and 100 in length.")
            _check_localizations(command, "")
            for i, option in enumerate(command.get("options") or []):
                if not 1 <= len(option.get("description", "")) <= 100:
                    raise invalid_form(f"options.{i}.description", "Must be between 1 and 100 in length.")
                _check_localizations(option, f"options.{i}.")
            registered.append(
                {
                    "id": str(self.new_id()),
                    "application_id": str(self.application_id),
                    "version": str(self.new_id()),
                    "default_member_permissions": None,
                    "type": 1,
                    "nsfw": False,
                    "options": [],
                    **({"guild_id": str(guild_id)} if guild_id else {}),
                    **command,
                }
            )
            permissions = registered[-1]["default_member_permissions"]
            if permissions is not None:  # Discord answers with the bit set as a string
                registered[-1]["default_member_permissions"] = str(int(permissions))
        self.commands[guild_id] = registered
        return json_response(registered)

    async def _get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.commands.get(None, []))

    async def _get_roles(self, request: web.Request) -> web.Response:
        guild = self.guilds.get(int(request.match_info["guild_id"]))
        if guild is None or self.bot.id not in guild.members:
            raise DiscordError(403, 50001, "Missing Access")
        return json_response([self._role_payload(guild, rid, i) for i, rid in enumerate(guild.roles)])

    # ------------------------------------------------------------------ REST: channels and messages
    async def _create_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self.users.get(int(body["recipient_id"]))
        if user is None:
            raise invalid_form("recipient_id", "Unknown user")
        return json_response(self._channel_payload(self.dm_channel(user)))

    async def _get_channel(self, request: web.Request) -> web.Response:
        return json_response(self._channel_payload(int(request.match_info["channel_id"])))

    async def _get_messages(self, request: web.Request) -> web.Response:
        """A channel's history as Discord gives it: with `after`, the `limit` (1-100, default 50)
        messages right after it; otherwise the latest ones (before `before`); newest first either way."""
        channel_id = int(request.match_info["channel_id"])
        self._channel_payload(channel_id)  # 404 for unknown channels
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            raise invalid_form("limit", "Value is not int.") from None
        if not 1 <= limit <= 100:
            raise invalid_form("limit", "int value should be less than or equal to 100.")
        mine = [m for _, m in sorted(self.messages.items()) if m["channel_id"] == str(channel_id)]
        if "after" in request.query:
            after = int(request.query["after"])
            page = [m for m in mine if int(m["id"]) > after][:limit]
        else:
            before = int(request.query.get("before", str(1 << 63)))
            page = [m for m in mine if int(m["id"]) < before][-limit:]
        return json_response([self._public(m) for m in reversed(page)])

    def _dm_recipient(self, channel_id: int) -> FakeUser | None:
        return next((self.users[u] for u, c in self.dm_channels.items() if c == channel_id), None)

    async def _post_message(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel_id"])
        self._channel_payload(channel_id)  # 404 for unknown channels
        recipient = self._dm_recipient(channel_id)
        if recipient is not None and recipient.dms_closed:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        body, files = await self._read_body(request)
        self._validate_message(body)
        if not body.get("content") and not files and not body.get("components"):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        message = self._message_payload(
            channel_id=channel_id,
            author=self.bot,
            content=body.get("content") or "",
            components=body.get("components"),
            attachments=self._attachments(files),
        )
        message["allowed_mentions"] = body.get("allowed_mentions")
        return json_response(self._store(message))

    async def _patch_message(self, request: web.Request) -> web.Response:
        message = self.messages.get(int(request.match_info["message_id"]))
        if message is None or message["channel_id"] != request.match_info["channel_id"]:
            raise DiscordError(404, 10008, "Unknown Message")
        if message["author"]["id"] != str(self.bot.id):
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        body, _ = await self._read_body(request)
        return json_response(self._edit(message, body))

    def _edit(self, message: Json, body: Json) -> Json:
        self._validate_message(body)
        for key in ("content", "components"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        message["edited_timestamp"] = _now_iso()
        return self._public(message)

    # ------------------------------------------------------------------ REST: interactions
    async def _callback(self, request: web.Request) -> web.Response:
        ix = self.interactions.get(int(request.match_info["interaction_id"]))
        if ix is None or ix.token != request.match_info["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        body, files = await self._read_body(request)
        now = time.monotonic()
        if now - ix.created > self.answer_window:
            ix.refused.append(10062)
            raise DiscordError(404, 10062, "Unknown interaction")
        if ix.callbacks:
            ix.refused.append(40060)
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        rtype = int(body["type"])
        data: Json = body.get("data") or {}
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[ix.type]
        if rtype not in allowed:
            raise invalid_form("type", f"Interaction response type {rtype} is not valid for this interaction")
        resource: Json = {"type": rtype}
        if rtype == 4:
            self._validate_message(data, where="data.")
        elif rtype == 7:
            self._validate_message(data, where="data.")
            if ix.message_id is None:
                raise invalid_form("type", "No message to update")
        elif rtype == 9:
            self._validate_modal(data)
        ix.callbacks.append((rtype, data))
        ix.responded_at = now
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        if rtype in (4, 5):
            message = self._message_payload(
                channel_id=ix.channel_id,
                author=self.bot,
                content=data.get("content") or "",
                components=data.get("components"),
                attachments=self._attachments(files),
                flags=(EPHEMERAL if ephemeral else 0) | (1 << 7 if rtype == 5 else 0),  # LOADING
                webhook_id=self.application_id,
            )
            ix.original_id = int(message["id"])
            if ephemeral or ix.guild_id is not None:
                self.ephemeral_owner[ix.original_id] = ix.user.id if ephemeral else 0
            resource["message"] = self._store(message)
        elif rtype == 7:
            assert ix.message_id is not None
            resource["message"] = self._edit(self.messages[ix.message_id], data)
        async with self._changed:
            self._changed.notify_all()
        return json_response(
            {
                "interaction": {
                    "id": str(ix.id),
                    "type": ix.type,
                    "response_message_id": str(ix.original_id) if ix.original_id else None,
                    "response_message_loading": rtype == 5,
                    "response_message_ephemeral": ephemeral,
                },
                "resource": resource,
            }
        )

    async def _followup(self, request: web.Request) -> web.Response:
        ix = self._interaction_by_token(request.match_info["token"])
        if not ix.callbacks or ix.response_type in (8, 9):
            raise DiscordError(404, 10015, "Unknown Webhook")
        body, files = await self._read_body(request)
        self._validate_message(body)
        if not body.get("content") and not files:
            raise DiscordError(400, 50006, "Cannot send an empty message")
        attachments = self._attachments(files)
        original = self.messages.get(ix.original_id) if ix.original_id else None
        if ix.response_type == 5 and original is not None and original["flags"] & (1 << 7):
            # The first follow-up after a "thinking" defer replaces the loading message (and keeps its flags).
            original.update(
                content=body.get("content") or "",
                components=body.get("components") or [],
                attachments=attachments,
                flags=original["flags"] & ~(1 << 7),
            )
            original["allowed_mentions"] = body.get("allowed_mentions")
            ix.followups.append(original)
            return json_response(self._public(original))
        ephemeral = bool(int(body.get("flags") or 0) & EPHEMERAL)
        message = self._message_payload(
            channel_id=ix.channel_id,
            author=self.bot,
            content=body.get("content") or "",
            components=body.get("components"),
            attachments=attachments,
            flags=EPHEMERAL if ephemeral else 0,
            webhook_id=self.application_id,
        )
        if ephemeral or ix.guild_id is not None:
            self.ephemeral_owner[int(message["id"])] = ix.user.id if ephemeral else 0
        message["allowed_mentions"] = body.get("allowed_mentions")
        ix.followups.append(message)
        return json_response(self._store(message))

    def _webhook_target(self, request: web.Request) -> tuple[FakeInteraction, Json]:
        ix = self._interaction_by_token(request.match_info["token"])
        key = request.match_info["message_id"]
        if key == "@original":
            target_id = ix.original_id if ix.original_id is not None else ix.message_id
        else:
            target_id = int(key)
        message = self.messages.get(target_id) if target_id is not None else None
        if message is None:
            raise DiscordError(404, 10008, "Unknown Message")
        return ix, message

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        _, message = self._webhook_target(request)
        return json_response(self._public(message))

    async def _patch_webhook_message(self, request: web.Request) -> web.Response:
        _, message = self._webhook_target(request)
        body, _ = await self._read_body(request)
        message["flags"] &= ~(1 << 7)
        return json_response(self._edit(message, body))

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        _, message = self._webhook_target(request)
        del self.messages[int(message["id"])]
        return web.Response(status=204)

    # ------------------------------------------------------------------ gateway
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """One gateway connection. Events reach connected sessions only: Discord keeps what a
        session missed for a RESUME of that session alone, and a new session (IDENTIFY) gets nothing
        that happened before it."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                if op == 1:
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    await self._identify(ws, payload["d"])
                elif op == 6:
                    await self._resume(ws, payload["d"])
        finally:
            session = self._session_of(ws)
            if session is not None:
                session.ws = None
                if ws.close_code in (1000, 1001):  # a clean close ends the session: nothing to resume
                    del self.sessions[session.id]
        return ws

    def _session_of(self, ws: web.WebSocketResponse) -> _Session | None:
        return next((s for s in self.sessions.values() if s.ws is ws), None)

    @property
    def _sockets(self) -> list[web.WebSocketResponse]:
        return [s.ws for s in self.sessions.values() if s.ws is not None]

    async def _identify(self, ws: web.WebSocketResponse, data: Json) -> None:
        self.identify.append({k: v for k, v in data.items() if k != "token"})
        if self.close_identify_with is not None:
            await ws.close(code=self.close_identify_with, message=b"Closed by the test.")
            return
        if data.get("token") != self.token and data.get("token") != f"Bot {self.token}":
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS and not self.allow_privileged_intents:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session = _Session(secrets.token_hex(16), ws)
        await self._send(
            ws,
            "READY",
            {
                "v": 10,
                "user": {**self.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0},
                "guilds": [{"id": str(gid), "unavailable": True} for gid in self.guilds],
                "session_id": session.id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "user_settings": {},
                "geo_ordered_rtc_regions": [],
            },
        )
        self.sessions[session.id] = session  # events from here on reach it
        for guild in self.guilds.values():
            await self._send(ws, "GUILD_CREATE", self._guild_payload(guild))
        async with self._changed:
            self._changed.notify_all()

    async def _resume(self, ws: web.WebSocketResponse, data: Json) -> None:
        self.resumes.append(str(data.get("session_id")))
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or session.ws is not None or data.get("token") not in (self.token, f"Bot {self.token}"):
            await ws.send_json({"op": 9, "d": False, "s": None, "t": None})  # invalid session: IDENTIFY again
            return
        session.ws = ws
        missed, session.missed = session.missed, []
        for event, payload in missed:
            await self._send(ws, event, payload)
        await self._send(ws, "RESUMED", {})
        async with self._changed:
            self._changed.notify_all()

    async def _send(self, ws: web.WebSocketResponse, event: str, data: Json) -> None:
        self._seq += 1
        await ws.send_json({"op": 0, "t": event, "s": self._seq, "d": data})

    async def dispatch(self, event: str, data: Json) -> bool:
        """Send an event to every connected session; False if none was (the event is then lost,
        except for a disconnected session that may still RESUME)."""
        delivered = False
        for session in list(self.sessions.values()):
            if session.ws is None:
                session.missed.append((event, data))
                continue
            with contextlib.suppress(ConnectionError):
                await self._send(session.ws, event, data)
                delivered = True
        if not delivered:
            self.dropped_events.append(event)
        return delivered

    async def send_reconnect(self) -> None:
        """Gateway op 7: the bot must reconnect and RESUME (Discord does this on its own maintenance)."""
        for ws in self._sockets:
            await ws.send_json({"op": 7, "d": None, "s": None, "t": None})

    async def invalidate_sessions(self) -> None:
        """Gateway op 9 (d=false): the session is gone; the bot must IDENTIFY anew (a new session)."""
        for session in list(self.sessions.values()):
            del self.sessions[session.id]
            if session.ws is not None:
                await session.ws.send_json({"op": 9, "d": False, "s": None, "t": None})

    @property
    def connected(self) -> int:
        return len(self._sockets)

    async def until(self, predicate: Callable[[], object], within: float = 5.0, what: str = "condition") -> None:
        """Wait until `predicate()` is true (re-checked after every request the bot makes)."""
        deadline = time.monotonic() + within
        async with self._changed:
            while not predicate():
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out after {within} s waiting for {what}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.05)

    # ------------------------------------------------------------------ users acting
    async def send_text(self, user: FakeUser, text: str, *, attachments: int = 0, stickers: int = 0) -> int:
        """The user writes `text` in their DM with the bot (FakeTelegram has the same verbs); returns its id."""
        channel_id = self.dm_channel(user)
        message = self._message_payload(channel_id=channel_id, author=user, content=text)
        message["attachments"] = [
            {"id": str(self.new_id()), "filename": "photo.jpg", "size": 1, "url": "http://127.0.0.1/x", "proxy_url": ""}
            for _ in range(attachments)
        ]
        message["sticker_items"] = [{"id": str(self.new_id()), "name": "wave", "format_type": 1}] * stickers
        self.messages[int(message["id"])] = message
        await self.dispatch("MESSAGE_CREATE", message)
        return int(message["id"])

    async def send_sticker(self, user: FakeUser) -> int:
        return await self.send_text(user, "", stickers=1)

    async def edit_text(self, user: FakeUser, message_id: int, text: str) -> None:
        message = self.messages[message_id]
        assert message["author"]["id"] == str(user.id)
        message["content"] = text
        message["edited_timestamp"] = _now_iso()
        await self.dispatch("MESSAGE_UPDATE", dict(message))

    def _interaction(
        self,
        itype: int,
        user: FakeUser,
        channel_id: int,
        data: Json,
        message_id: int | None = None,
        name: str = "",
    ) -> tuple[FakeInteraction, Json]:
        guild = self._guild_of(channel_id)
        ix = FakeInteraction(
            id=self.new_id(),
            token=secrets.token_urlsafe(48),
            type=itype,
            user=user,
            channel_id=channel_id,
            guild_id=guild.id if guild else None,
            created=time.monotonic(),
            message_id=message_id,
            name=name,
        )
        self.interactions[ix.id] = ix
        payload: Json = {
            "id": str(ix.id),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "channel_id": str(channel_id),
            "channel": self._channel_payload(channel_id),
            "token": ix.token,
            "version": 1,
            "locale": user.locale,
            "app_permissions": "1071698660929",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)} if guild else {"1": str(user.id)},
            "context": 0 if guild else 1,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild is not None:
            if user.id not in guild.members:
                raise AssertionError(f"{user.name} is not a member of {guild.name}")
            payload["guild_id"] = str(guild.id)
            payload["guild_locale"] = "en-US"
            payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
            payload["member"] = self._member_payload(guild, user)
        else:
            payload["user"] = user.payload()
        if message_id is not None:
            payload["message"] = self._public(self.messages[message_id])
        return ix, payload

    def _command(self, name: str, guild_id: int | None) -> Json:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return command
        raise AssertionError(f"/{name} is not registered (guild {guild_id})")

    def _options(self, command: Json, options: Mapping[str, object], focused: str | None = None) -> list[Json]:
        types = {o["name"]: o["type"] for o in command.get("options", [])}
        out = []
        for key, value in options.items():
            if key not in types:
                raise AssertionError(f"/{command['name']} has no option {key!r}")
            option: Json = {"name": key, "type": types[key], "value": value}
            if key == focused:
                option["focused"] = True
            out.append(option)
        return out

    async def slash(
        self, user: FakeUser, name: str, options: Mapping[str, object] | None = None, *, channel_id: int | None = None
    ) -> FakeInteraction:
        """`user` runs `/name` in `channel_id` (a guild channel), or in their DM with the bot when None."""
        channel = channel_id if channel_id is not None else self.dm_channel(user)
        guild = self._guild_of(channel)
        command = self._command(name, guild.id if guild else None)
        if guild is not None and not guild.may_use(user.id, command):
            raise HiddenCommand(f"/{name} is hidden from {user.name} in {guild.name}")
        data: Json = {
            "id": command["id"],
            "name": name,
            "type": 1,
            "options": self._options(command, options or {}),
        }
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        ix, payload = self._interaction(2, user, channel, data, name=name)
        await self.dispatch("INTERACTION_CREATE", payload)
        return ix

    async def autocomplete(
        self, user: FakeUser, name: str, options: Mapping[str, object], focused: str, *, channel_id: int | None = None
    ) -> FakeInteraction:
        channel = channel_id if channel_id is not None else self.dm_channel(user)
        guild = self._guild_of(channel)
        command = self._command(name, guild.id if guild else None)
        if guild is not None and not guild.may_use(user.id, command):
            raise HiddenCommand(f"/{name} is hidden from {user.name} in {guild.name}")
        data: Json = {"id": command["id"], "name": name, "type": 1, "options": self._options(command, options, focused)}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        ix, payload = self._interaction(4, user, channel, data, name=name)
        await self.dispatch("INTERACTION_CREATE", payload)
        return ix

    async def press(self, user: FakeUser, message: Json, label: str) -> FakeInteraction:
        """`user` presses the button labelled `label` on `message` (it must still be there)."""
        current = self.messages[int(message["id"])]
        owner = self.ephemeral_owner.get(int(current["id"]))
        if owner not in (None, 0, user.id):
            raise AssertionError(f"{user.name} cannot see that message")
        button = next((b for b in buttons(current) if b.get("label") == label), None)
        if button is None:
            labels = [b.get("label") for b in buttons(current)]
            raise AssertionError(f"no button {label!r} on the message (buttons: {labels})")
        data = {"custom_id": button["custom_id"], "component_type": 2}
        ix, payload = self._interaction(
            3, user, int(current["channel_id"]), data, int(current["id"]), button["custom_id"]
        )
        await self.dispatch("INTERACTION_CREATE", payload)
        return ix

    async def submit_modal(
        self, user: FakeUser, opened_by: FakeInteraction, values: Mapping[str, str]
    ) -> FakeInteraction:
        """`user` fills in the modal `opened_by` showed (values by input label) and submits it."""
        modal = opened_by.modal
        assert modal is not None, "that interaction did not open a modal"
        rows = []
        labels = {i.get("label"): i["custom_id"] for i in self._modal_inputs(modal["components"])}
        for label, value in values.items():
            if label not in labels:
                raise AssertionError(f"the modal has no input {label!r} (inputs: {list(labels)})")
            rows.append({"type": 1, "components": [{"type": 4, "custom_id": labels[label], "value": value}]})
        data = {"custom_id": modal["custom_id"], "components": rows}
        ix, payload = self._interaction(5, user, opened_by.channel_id, data, opened_by.message_id, modal["custom_id"])
        await self.dispatch("INTERACTION_CREATE", payload)
        return ix

    # ------------------------------------------------------------------ reading what happened
    def conversation(self, user: FakeUser) -> list[Json]:
        """What the bot showed this user: their DM channel, plus replies to their interactions elsewhere."""
        dm = self.dm_channels.get(user.id)
        mine = {ix.original_id for ix in self.interactions.values() if ix.user.id == user.id}
        mine |= {int(m["id"]) for ix in self.interactions.values() if ix.user.id == user.id for m in ix.followups}
        out = []
        for mid, message in sorted(self.messages.items()):
            if message["author"]["id"] != str(self.bot.id):
                continue
            if (dm is not None and message["channel_id"] == str(dm)) or mid in mine:
                out.append(message)
        return out

    async def reply(self, ix: FakeInteraction, index: int = 0) -> Json:
        """The bot's follow-up number `index` to an interaction (waits for it)."""
        await self.until(lambda: len(ix.followups) > index, what=f"follow-up {index} to /{ix.name}")
        return ix.followups[index]

    async def next_message(self, user: FakeUser, seen: int) -> Json:
        """The first message the bot shows `user` after the `seen` they had (waits for it)."""
        await self.until(lambda: len(self.conversation(user)) > seen, what=f"a message to {user.name}")
        return self.conversation(user)[seen]

    def texts(self, user: FakeUser) -> list[str]:
        return [m["content"] for m in self.conversation(user)]

    def last(self, user: FakeUser) -> Json:
        messages = self.conversation(user)
        if not messages:
            raise AssertionError(f"{user.name} received nothing")
        return messages[-1]

    def channel_messages(self, channel_id: int) -> list[Json]:
        return [
            m
            for _, m in sorted(self.messages.items())
            if m["channel_id"] == str(channel_id) and m["author"]["id"] == str(self.bot.id)
        ]

    def late_interactions(self) -> list[FakeInteraction]:
        now = time.monotonic()
        return [ix for ix in self.interactions.values() if ix.late(now, self.answer_window)]

    def requests_to(self, method: str, path_regex: str) -> list[RequestRecord]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]
