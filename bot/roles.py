"""Who may use staff and manager commands, per platform: user ids, and role names where a platform has them."""

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
    staff_roles: frozenset[str] = frozenset()
    manager_roles: frozenset[str] = frozenset()

    def role_of(self, user_id: str, role_names: Iterable[str]) -> Role:
        names = frozenset(role_names)
        if user_id in self.manager_ids or names & self.manager_roles:
            return Role.MANAGER
        if user_id in self.staff_ids or names & self.staff_roles:
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
        return roles.role_of(inbound.sender_id, inbound.sender_roles)
