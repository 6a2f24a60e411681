"""Staff and manager commands: roles are checked every time, and a refusal changes nothing."""

from __future__ import annotations

import logging

import pytest

from bot import texts
from bot.i18n import Voice
from storage.store import Store
from tests.support import Chat, latest_run, make_settings

TEAM_CHAT = "-500"
EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

SETTINGS = {
    "polls": [
        {"id": "visit", "question": "What was your favourite part?"},
        {"id": "weekly", "question": "How was your week?", "schedule": "0 9 * * 1", "timezone": "Europe/Berlin"},
    ]
}


@pytest.fixture
async def team(sqlite_store: Store) -> Chat:
    chat = await Chat.open(
        sqlite_store, make_settings(SETTINGS), staff=("900",), managers=("901",), team_chats=(TEAM_CHAT,)
    )
    for name in ("ann", "bob", "cy"):
        await chat.say(chat.user(name), "/start vip" if name != "cy" else "/start")
    chat.user("staff", "900")
    chat.user("boss", "901")
    return chat


async def test_staff_starts_a_poll_and_sees_its_status(team: Chat) -> None:
    staff = team.users["staff"]
    await team.say(staff, "/poll visit")
    assert team.last_text(staff).startswith("Poll 'visit' started (run 1): 3 customers will be asked.")
    await team.worker.drain()
    await team.say(team.users["ann"], "Lovely")
    await team.say(staff, "/status")
    status = team.last_text(staff)
    assert "Asked 3 · delivered 3 · waiting 0 · failed 0" in status
    assert "Answered 1 (33%)" in status


async def test_poll_with_tag_counts_only_tagged_customers(team: Chat) -> None:
    staff = team.users["staff"]
    await team.say(staff, "/poll visit vip")
    assert "2 customers tagged 'vip' will be asked" in team.last_text(staff)


async def test_wrong_poll_id_or_tag_gives_usage_and_no_run(team: Chat) -> None:
    staff = team.users["staff"]
    await team.say(staff, "/poll nosuch")
    assert "Unknown poll 'nosuch'" in team.last_text(staff) and "visit, weekly" in team.last_text(staff)
    await team.say(staff, "/poll visit bad/tag")
    assert "Invalid tag" in team.last_text(staff)
    await team.say(staff, "/poll")
    assert team.last_text(staff).startswith("Usage: /poll POLL_ID [tag]")
    assert await latest_run(team.store) is None


async def test_non_staff_poll_is_refused_logged_and_changes_nothing(
    team: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    ann = team.users["ann"]
    with caplog.at_level(logging.WARNING, logger="feedbot.engine"):
        await team.say(ann, "/poll visit")
    assert team.last_text(ann) == EN(texts.NOT_ALLOWED_STAFF)
    assert await latest_run(team.store) is None
    assert any("refused command=/poll" in r.message and f"user={ann.user_id}" in r.message for r in caplog.records)


async def test_staff_cannot_use_manager_commands_but_managers_can_use_staff_ones(team: Chat) -> None:
    staff, boss = team.users["staff"], team.users["boss"]
    await team.say(staff, "/digest")
    assert team.last_text(staff) == EN(texts.NOT_ALLOWED_MANAGERS)
    await team.say(boss, "/poll visit")
    assert "started" in team.last_text(boss)


async def test_role_is_checked_every_time(team: Chat) -> None:
    """Taking someone off the staff list takes effect on their very next command."""
    from bot.roles import PlatformRoles

    staff = team.users["staff"]
    await team.say(staff, "/polls")
    assert team.last_text(staff).startswith("Polls:")
    team.engine.roles = team.engine.roles.with_platform("local", PlatformRoles())
    await team.say(staff, "/polls")
    assert team.last_text(staff) == EN(texts.NOT_ALLOWED_STAFF)


async def test_polls_lists_next_time_in_the_poll_time_zone(team: Chat) -> None:
    staff = team.users["staff"]
    await team.say(staff, "/polls")  # the fake clock is Monday 2 March 2026, 10:00 UTC
    listing = team.last_text(staff)
    assert "weekly – next Mon 2026-03-09 09:00 CET (Europe/Berlin" in listing
    assert "visit – on demand only" in listing


async def test_status_of_unknown_run_and_bad_argument(team: Chat) -> None:
    staff = team.users["staff"]
    await team.say(staff, "/status 99")
    assert team.last_text(staff) == "No such run."
    await team.say(staff, "/status abc")
    assert team.last_text(staff) == "Usage: /status [RUN]"


async def test_help_shows_staff_commands_only_to_staff(team: Chat) -> None:
    await team.say(team.users["ann"], "/help")
    assert "/poll" not in team.last_text(team.users["ann"])
    await team.say(team.users["staff"], "/help")
    assert "/poll" in team.last_text(team.users["staff"]) and "/digest" not in team.last_text(team.users["staff"])
    await team.say(team.users["boss"], "/help")
    assert "/digest" in team.last_text(team.users["boss"])


async def test_staff_commands_work_in_the_team_chat_only(team: Chat) -> None:
    await team.say_in_group(team.users["staff"], TEAM_CHAT, "/poll@FeedBot visit")
    in_group = [m for m in team.adapter.outbox if m.chat.chat_id == TEAM_CHAT]
    assert len(in_group) == 1 and "started" in in_group[0].text
    await team.say_in_group(team.users["staff"], "-600", "/status")
    [elsewhere] = [m for m in team.adapter.outbox if m.chat.chat_id == "-600"]
    assert elsewhere.text == EN(texts.TEAM_ONLY_HERE)


async def test_digest_arguments_choose_the_period_so_far_or_the_last_complete_one(team: Chat) -> None:
    calls: list[tuple[str, bool]] = []

    async def renderer(period: str, now: object, current: bool = False) -> tuple[str, bytes | None]:
        calls.append((period, current))
        return f"digest {period} {'so far' if current else 'last'}", None

    class Recording:
        async def digest(
            self, period: str, now: object, current: bool = False, language: str | None = None
        ) -> tuple[str, bytes | None]:
            return await renderer(period, now, current)

        async def goals(self, now: object, language: str | None = None) -> str:
            return ""

    team = await Chat.open(team.store, team.settings, team.clock, managers=("901",), reporting=Recording())
    boss = team.user("boss", "901")
    for command in ("/digest", "/digest day", "/digest last", "/digest LAST month", "/digest last week extra"):
        await team.say(boss, command)
    assert calls == [("week", True), ("day", True), ("week", False), ("month", False)]
    assert team.last_text(boss) == "Usage: /digest [last] [day|week|month]"
