"""Authorization bound to place: results and staff work answer only where no outsider reads them.

The rule lives in the command registry (bot.commands.Place), so it holds on every platform; here the
local adapter stands in for Telegram (its digest chats are the team chats).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from adapters.local import LocalAdapter, LocalUser
from bot import texts
from bot.commands import Place, default_registry
from bot.i18n import Voice
from bot.roles import Role
from storage.store import Store
from tests.support import Chat, latest_run, make_settings

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

TEAM_CHAT, OTHER_GROUP = "-1001", "-555"
BOSS = LocalUser("7", "boss")
TEAM_SPECS = [spec for spec in default_registry() if spec.place is Place.TEAM]


class Reports:
    async def digest(
        self, period: str, now: datetime, current: bool = False, language: str | None = None
    ) -> tuple[str, bytes | None]:
        return "DIGEST: 'the cake was stale' (customer quote)", None

    async def goals(self, now: datetime, language: str | None = None) -> str:
        return "GOALS: response rate 40% – missed"


@pytest.fixture
async def team(sqlite_store: Store) -> Chat:
    adapter = LocalAdapter()
    adapter.platform = "telegram"  # type: ignore[misc]
    settings = make_settings(
        telegram={"digest_chats": [TEAM_CHAT], "managers": [BOSS.user_id]},
        goals=[{"metric": "answers", "target": 1}],
    )
    return await Chat.open(sqlite_store, settings, adapter=adapter, reporting=Reports())


def test_the_commands_that_reveal_results_are_team_commands() -> None:
    names = {spec.name for spec in TEAM_SPECS}
    assert {"digest", "goals", "status", "polls"} <= names
    assert all(spec.role >= Role.STAFF for spec in TEAM_SPECS)


@pytest.mark.parametrize("name", [spec.name for spec in TEAM_SPECS])
async def test_a_manager_in_an_unconfigured_group_gets_no_results(team: Chat, name: str) -> None:
    args = " visit" if name == "poll" else ""
    await team.say_in_group(BOSS, OTHER_GROUP, f"/{name}{args}")
    [answer] = team.adapter.outbox
    assert answer.chat.chat_id == OTHER_GROUP
    assert answer.text == EN(texts.TEAM_ONLY_HERE)
    assert await latest_run(team.store) is None  # /poll started nothing


async def test_results_in_the_team_chat_and_in_a_private_chat(team: Chat) -> None:
    await team.say_in_group(BOSS, TEAM_CHAT, "/digest")
    assert team.adapter.outbox[-1].chat.chat_id == TEAM_CHAT
    assert team.adapter.outbox[-1].text.startswith("DIGEST:")
    await team.say(BOSS, "/goals")
    assert team.last_text(BOSS).startswith("GOALS:")


async def test_in_a_group_only_our_own_commands_get_an_answer(team: Chat) -> None:
    for text in ("/usr/bin/python3 is broken", "/roll 2d6", "/tmp", "hello all"):
        await team.say_in_group(BOSS, TEAM_CHAT, text)
    assert team.adapter.outbox == []
    await team.say_in_group(BOSS, TEAM_CHAT, "/help")
    assert team.adapter.outbox[-1].chat.chat_id == TEAM_CHAT
    await team.say(BOSS, "/roll 2d6")  # in a private chat an unknown command still gets the help
    assert "/start" in team.last_text(BOSS)


async def test_an_answer_only_the_sender_sees_counts_as_private(team: Chat) -> None:
    inbound = team.adapter.inbound(BOSS, "/goals", is_private=False, seen_by_sender_only=True)
    await team.adapter.deliver(inbound)
    await team.worker.drain()
    assert team.adapter.outbox[-1].text.startswith("GOALS:")
