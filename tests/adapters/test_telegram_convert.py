"""Conversions at the Telegram edge, without a server: updates in, rendered messages out, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram import Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from adapters.telegram.convert import delivery_error, retry_seconds, strip_bot_mention, to_inbound
from adapters.telegram.menus import Menus
from adapters.telegram.render import MAX_CAPTION, build_keyboard, render, split_text, utf16_len
from bot.commands import default_registry
from bot.errors import DeliveryError, MessageRejected, PlatformGone, RecipientUnreachable, TryLater
from bot.i18n import Voice
from bot.types import ChatRef, Choice, Image, InboundKind, Outbound

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
USER = {"id": 42, "is_bot": False, "first_name": "Ada", "last_name": "Lovelace", "language_code": "en"}
PRIVATE = {"id": 42, "type": "private", "first_name": "Ada"}
GROUP = {"id": -100777, "type": "supergroup", "title": "Team"}


def update(kind: str, **payload: Any) -> Update:
    return Update.de_json({"update_id": 9, kind: payload}, None)


def message(text: str | None = "hello", chat: dict[str, Any] = PRIVATE, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"message_id": 17, "from": USER, "chat": chat, "date": 1772445600} | extra
    if text is not None:
        data["text"] = text
    return data


def inbound(upd: Update) -> Any:
    return to_inbound(upd, "FeedBot", NOW)


# ---------------------------------------------------------------------------------------- inbound
def test_private_text_message() -> None:
    got = inbound(update("message", **message("Lovely")))
    assert got.chat == ChatRef("telegram", "42", "42")
    assert (got.sender_id, got.sender_name, got.text, got.message_id) == ("42", "Ada Lovelace", "Lovely", "17")
    assert got.kind is InboundKind.TEXT and got.is_private and got.language == "en"
    assert got.received_at == datetime.fromtimestamp(1772445600, UTC)


def test_commands_lose_our_mention_and_keep_deep_link_payload() -> None:
    assert inbound(update("message", **message("/start@FeedBot vip-2026"))).text == "/start vip-2026"
    assert inbound(update("message", **message("/start spring_fair"))).text == "/start spring_fair"
    assert inbound(update("message", **message("/help@OtherBot"))) is None
    assert strip_bot_mention("/poll@feedbot visit", "FeedBot") == "/poll visit"


def test_group_messages_only_commands_and_no_user_in_the_chat_ref() -> None:
    assert inbound(update("message", **message("hi all", chat=GROUP))) is None
    got = inbound(update("message", **message("/digest week", chat=GROUP)))
    assert got.chat == ChatRef("telegram", "-100777", None) and not got.is_private


def test_media_and_service_messages() -> None:
    photo = [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}]
    got = inbound(update("message", **message(None, photo=photo, caption="look")))
    assert (got.kind, got.text) == (InboundKind.MEDIA, "look")
    voice = {"file_id": "v", "file_unique_id": "vu", "duration": 3}
    assert inbound(update("message", **message(None, voice=voice))).kind is InboundKind.MEDIA
    assert inbound(update("message", **message(None, new_chat_members=[USER], chat=GROUP))) is None


def test_edit_keeps_the_message_id() -> None:
    got = inbound(update("edited_message", **message("Better", edit_date=1772445700)))
    assert (got.kind, got.message_id, got.text) == (InboundKind.EDIT, "17", "Better")
    assert got.received_at == datetime.fromtimestamp(1772445700, UTC)


def test_callback_query_is_a_choice_on_the_keyboard_message() -> None:
    bot_msg = message("How would you rate it?") | {"from": {"id": 1, "is_bot": True, "first_name": "B"}}
    got = inbound(
        update("callback_query", id="q1", chat_instance="c", data="rate:3:5", message=bot_msg, **{"from": USER})
    )
    assert (got.kind, got.choice, got.message_id, got.received_at) == (InboundKind.CHOICE, "rate:3:5", "17", NOW)


def test_my_chat_member_in_private_chats_only() -> None:
    def change(old: str, new: str, chat: dict[str, Any] = PRIVATE) -> Update:
        bot_user = {"id": 1, "is_bot": True, "first_name": "B"}
        members = [{"user": bot_user, "status": s} | ({"until_date": 0} if s == "kicked" else {}) for s in (old, new)]
        payload = {"chat": chat, "from": USER, "date": 1772445600}
        return update("my_chat_member", **payload, old_chat_member=members[0], new_chat_member=members[1])

    blocked = inbound(change("member", "kicked"))
    assert (blocked.kind, blocked.message_id) == (InboundKind.BLOCKED, "member-9")
    assert inbound(change("kicked", "member")).kind is InboundKind.UNBLOCKED
    assert inbound(change("member", "left", GROUP)) is None


# ---------------------------------------------------------------------------------------- outbound
def test_split_counts_utf16_units_and_prefers_line_boundaries() -> None:
    assert split_text("short") == ["short"]
    assert split_text("") == [] and split_text("\n \n") == []
    emoji_line = "😀" * 1500  # 3,000 UTF-16 units
    parts = split_text(f"{emoji_line}\n{emoji_line}")
    assert parts == [emoji_line, emoji_line]
    words = " ".join(["word"] * 2000)  # one 9,999-character line: cut at spaces
    parts = split_text(words)
    assert all(utf16_len(p) <= 4096 for p in parts) and " ".join(parts) == words
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in parts)
    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]


def test_keyboard_layout_and_callback_data_limit() -> None:
    five = build_keyboard([Choice(str(n), f"rate:1:{n}") for n in range(1, 6)])
    assert five is not None and [len(r) for r in five.inline_keyboard] == [5]
    eleven = build_keyboard([Choice(str(n), f"rate:1:{n}") for n in range(11)])
    assert eleven is not None and [len(r) for r in eleven.inline_keyboard] == [6, 5]
    yes_no = build_keyboard([Choice("Yes, erase everything", "forget:yes"), Choice("No, keep it", "forget:no")])
    assert yes_no is not None and [len(r) for r in yes_no.inline_keyboard] == [1, 1]
    assert build_keyboard([]) is None
    with pytest.raises(ValueError, match="1-64 bytes"):
        build_keyboard([Choice("x", "é" * 33)])


def test_photo_with_long_text_goes_first_then_the_text() -> None:
    image = Image("chart.png", b"png")
    chat = ChatRef("telegram", "-100777")
    short = render(Outbound(chat, "Digest", image=image, reply_to="5"))
    assert [(p.photo is not None, p.text, p.reply_to) for p in short] == [(True, "Digest", 5)]
    long_text = "line\n" * (MAX_CAPTION // 4)
    parts = render(Outbound(chat, long_text, image=image, choices=(Choice("OK", "ok"),), reply_to="5"))
    assert [(p.photo is not None, p.text != "", p.keyboard is not None, p.reply_to) for p in parts] == [
        (True, False, False, 5),
        (False, True, True, None),
    ]


def test_replies_quote_only_in_groups() -> None:
    assert render(Outbound(ChatRef("telegram", "42", "42"), "hi", reply_to="7"))[0].reply_to is None
    assert render(Outbound(ChatRef("telegram", "-100777"), "hi", reply_to="7"))[0].reply_to == 7


def test_customer_text_is_sent_verbatim_as_plain_text() -> None:
    text = "<b>not bold</b> *nor this* [link](http://x)"
    assert render(Outbound(ChatRef("telegram", "42", "42"), text))[0].text == text


# ---------------------------------------------------------------------------------------- errors and menus
@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), RecipientUnreachable),
        (Forbidden("Forbidden: bot can't initiate conversation with a user"), RecipientUnreachable),
        (Forbidden("Forbidden: user is deactivated"), RecipientUnreachable),
        (BadRequest("Bad Request: chat not found"), RecipientUnreachable),
        (BadRequest("Bad Request: message is too long"), MessageRejected),  # our bug: never "unreachable"
        (InvalidToken("Unauthorized"), PlatformGone),
        (TimedOut(), TryLater),
        (NetworkError("httpx.ConnectError: connection refused"), TryLater),
    ],
)
def test_delivery_errors_are_told_apart_by_cause(error: Exception, cause: type[DeliveryError]) -> None:
    translated = delivery_error(error)  # type: ignore[arg-type]
    assert type(translated) is cause
    assert translated.reason.startswith("telegram: ")


def test_a_429_is_passing_and_carries_its_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    translated = delivery_error(RetryAfter(timedelta(seconds=7)))
    assert type(translated) is TryLater and translated.retry_after == 7.0


def test_retry_after_in_either_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    assert retry_seconds(RetryAfter(timedelta(seconds=3))) == 3.0
    monkeypatch.delenv("PTB_TIMEDELTA")
    with pytest.warns(Warning):  # PTB warns while building the exception; reading it is quiet
        error = RetryAfter(5)
    assert retry_seconds(error) == 5.0


def test_menus_cover_exactly_the_engine_commands() -> None:
    menus = Menus.from_registry(default_registry(), Voice("en"))
    customer = {"start", "stop", "pause", "mydata", "forget", "privacy", "help"}
    assert set(menus.customer) == customer
    assert set(menus.staff) == customer | {"poll", "polls", "status"}
    assert set(menus.manager) == customer | {"poll", "polls", "status", "digest", "goals"}
    assert menus.team_group == ("help", "poll", "polls", "status", "digest", "goals")
