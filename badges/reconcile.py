"""Reconciliation as a pure function: who should gain or lose a badge role, or a badge.

The database says who holds a badge; Discord says who has its role. Changes already queued
are in flight, not drift, so they are left out of the comparison.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from badges.model import RoleDrift


@dataclass(frozen=True, slots=True)
class RoleDiff:
    """What reconciling one badge with its role does."""

    grant: frozenset[int] = frozenset()
    """Holders who get the role."""
    remove: frozenset[int] = frozenset()
    """Members who lose the role."""
    award: frozenset[int] = frozenset()
    """Members who get the badge because they were given the role by hand (adopt mode)."""
    revoke: frozenset[int] = frozenset()
    """Holders who lose the badge because the role was taken by hand (adopt mode)."""

    @property
    def empty(self) -> bool:
        return not (self.grant or self.remove or self.award or self.revoke)

    @property
    def size(self) -> int:
        return len(self.grant) + len(self.remove) + len(self.award) + len(self.revoke)


def plan(
    holders: Set[int],
    role_members: Set[int],
    drift: RoleDrift,
    *,
    adding: Set[int] = frozenset(),
    removing: Set[int] = frozenset(),
) -> RoleDiff:
    """Compare holders of a badge with members of its role.

    ``adding`` and ``removing`` are members with a queued role add or remove: the sync will
    bring them in line, so they are not drift. In revert mode the roles follow the database;
    in adopt mode the database follows hand edits of the role.
    """
    missing_role = set(holders) - set(role_members) - set(adding)
    extra_role = set(role_members) - set(holders) - set(removing)
    if drift is RoleDrift.ADOPT:
        return RoleDiff(award=frozenset(extra_role), revoke=frozenset(missing_role))
    return RoleDiff(grant=frozenset(missing_role), remove=frozenset(extra_role))
