"""Who may use staff and manager commands, per platform: user ids, and roles where a platform has them.

A role counts only as the adapter vouches for it (`Inbound.sender_roles`): on Discord, the ids of the
roles the sender holds in one of the configured servers, and the configured role names resolved to
those ids at start. A message from a place the operator did not configure (`Inbound.trusted_place`
False: a server not in `guild_ids`) carries no staff or manager rights at all, not even by user id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from bot.types import Inbound


class Role(IntEnum):
    CUSTOMER = 0
    STAFF = 1
    MANAGER = 2


@dataclass(frozen=True, slots=True)
class PlatformRoles:
    staff_ids: frozenset[str] = frozenset()
    manager_ids: frozenset[str] = frozenset()
    staff_roles: frozenset[str] = frozenset()  # role names (resolved to ids by the adapter at start)
    manager_roles: frozenset[str] = frozenset()
    staff_role_ids: frozenset[str] = frozenset()
    manager_role_ids: frozenset[str] = frozenset()

    def role_of(self, user_id: str, roles: Iterable[str], *, trusted_place: bool = True) -> Role:
        if not trusted_place:
            return Role.CUSTOMER
        held = frozenset(roles)
        if user_id in self.manager_ids or held & (self.manager_roles | self.manager_role_ids):
            return Role.MANAGER
        if user_id in self.staff_ids or held & (self.staff_roles | self.staff_role_ids):
            return Role.STAFF
        return Role.CUSTOMER


class RolePolicy:
    """Checked on every command; nothing is cached per user."""

    def __init__(self, by_platform: dict[str, PlatformRoles]) -> None:
        self._by_platform = by_platform

    def with_platform(self, platform: str, roles: PlatformRoles) -> RolePolicy:
        return RolePolicy({**self._by_platform, platform: roles})

    def role_of(self, inbound: Inbound) -> Role:
        roles = self._by_platform.get(inbound.chat.platform)
        if roles is None:
            return Role.CUSTOMER
        return roles.role_of(inbound.sender_id, inbound.sender_roles, trusted_place=inbound.trusted_place)
