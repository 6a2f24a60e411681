"""Which Discord servers count, and which of the sender's roles we vouch for.

Anyone can add a public bot to their own server and create roles named "Staff" or "Managers", so a
role name proves nothing by itself. Roles count only in the servers of `guild_ids`; configured role
names are resolved to role ids at start, in those servers only, and from then on the ids decide (a
role created or renamed later in a trusted server does not inherit the rights of a name).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import discord

log = logging.getLogger("feedbot.discord")


@dataclass(frozen=True, slots=True)
class Vouched:
    roles: frozenset[str]  # role ids held in a trusted server, and the configured names they stand for
    trusted_place: bool  # False: a server not in guild_ids (no staff or manager rights there)


@dataclass(slots=True)
class GuildTrust:
    guild_ids: frozenset[int]
    names: frozenset[str]  # configured role names (staff_roles, manager_roles)
    _name_of: dict[int, str] = field(default_factory=dict)  # role id -> the configured name it carries

    @classmethod
    def from_settings(cls, guild_ids: Iterable[str], role_names: Iterable[str]) -> GuildTrust:
        return cls(frozenset(int(g) for g in guild_ids), frozenset(role_names))

    async def resolve(self, http: discord.http.HTTPClient) -> None:
        """Look the configured role names up in the trusted servers (raises what the request raises)."""
        if not self.names:
            return
        if not self.guild_ids:
            log.warning(
                "discord: staff_roles/manager_roles are ignored without guild_ids: roles count only in "
                "the servers you configure"
            )
            return
        found: dict[int, str] = {}
        for guild_id in sorted(self.guild_ids):
            try:
                roles = await http.get_roles(guild_id)
            except (discord.Forbidden, discord.NotFound) as exc:
                log.error(
                    "discord: cannot read the roles of server %s (discord %s): is the bot in it?", guild_id, exc.code
                )
                continue
            for role in roles:
                if role["name"] in self.names:
                    found[int(role["id"])] = role["name"]
        self._name_of = found
        missing = sorted(self.names - set(found.values()))
        if missing:
            log.warning("discord: no role named %s in the servers of guild_ids", ", ".join(repr(n) for n in missing))
        log.info("discord: role names resolved to %d role ids in %d servers", len(found), len(self.guild_ids))

    def vouch(self, interaction: discord.Interaction) -> Vouched:
        guild_id = interaction.guild_id
        if guild_id is None:
            return Vouched(frozenset(), True)  # a DM: no roles, user-id lists still count
        if guild_id not in self.guild_ids:
            return Vouched(frozenset(), False)
        held = {role.id for role in getattr(interaction.user, "roles", ()) if not role.is_default()}
        names = {self._name_of[rid] for rid in held if rid in self._name_of}
        return Vouched(frozenset({str(rid) for rid in held} | names), True)
