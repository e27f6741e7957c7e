"""A reconciliation compares the awards with a member list taken before it runs: a change the
role sync applied in between is neither queued nor in that list. Found by the crash test
(tests/e2e/test_crash.py): the reconciliation at start, racing the drain, sent a member's
role a second time; in adopt mode it would have revoked the badge just given."""

from __future__ import annotations

from collections.abc import Set
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from badges.model import RoleAction, RoleChange, RoleDrift
from badges.service import BadgeService
from bot.roles.worker import RoleSyncWorker
from tests.conftest import ADMIN, GUILD, MOD
from tests.db.test_role_links import ROLE, _linked, _queue


async def _one_applied(service: BadgeService) -> str:
    """Holders 1-3, their adds queued; the sync has just applied member 1's."""
    badge_id = await _linked(service, range(1, 4))
    (first, *_rest) = await service.queue.due(GUILD)
    assert first.user_id == 1
    await service.queue.applied(first)
    return badge_id


async def test_without_word_from_the_sync_a_stale_list_queues_the_change_again(
    service: BadgeService,
) -> None:
    badge_id = await _one_applied(service)
    diff = await service.reconcile.badge(MOD, GUILD, badge_id, set())  # listed before
    assert diff.grant == {1}  # what happens without just_changed: sent twice


async def test_a_member_the_sync_just_changed_is_not_drift(service: BadgeService) -> None:
    badge_id = await _one_applied(service)
    asked: list[Set[int]] = []

    def just_changed(users: Set[int]) -> Set[int]:
        asked.append(set(users))
        return {1} & users

    diff = await service.reconcile.badge(MOD, GUILD, badge_id, set(), just_changed=just_changed)
    assert diff.empty
    assert asked == [{1}]  # asked after the queue was read: 2 and 3 are still in flight
    assert await _queue(service) == [("add", 2), ("add", 3)]


async def test_adopt_mode_keeps_the_badge_of_a_member_the_sync_just_gave_the_role(
    service: BadgeService,
) -> None:
    badge_id = await _one_applied(service)
    await service.config.set_role_drift(ADMIN, GUILD, RoleDrift.ADOPT)
    stale = await service.reconcile.badge(MOD, GUILD, badge_id, set(), dry_run=True)
    assert stale.revoke == {1}  # the defect: the badge just given would be revoked
    diff = await service.reconcile.badge(
        MOD, GUILD, badge_id, set(), just_changed=lambda users: {1} & users
    )
    assert diff.empty
    holders = await service.awards.holders(GUILD, badge_id)
    assert {a.user_id for a in holders.items} == {1, 2, 3}


def _change(user_id: int, role_id: int, action: RoleAction) -> RoleChange:
    at = datetime.now(UTC)
    return RoleChange(1, GUILD, role_id, action, user_id, None, None, 0, None, at)


def test_the_worker_says_what_it_set_lately_for_that_role_only() -> None:
    worker = RoleSyncWorker(cast(Any, SimpleNamespace(service=None)))
    worker._remember(_change(1, ROLE, RoleAction.ADD))
    worker._remember(_change(2, ROLE, RoleAction.REMOVE))
    worker._remember(_change(3, ROLE + 1, RoleAction.REMOVE))  # another role
    worker._remember(_change(4, ROLE + 1, RoleAction.ADD))
    assert worker.just_changed(GUILD, ROLE)({1, 2, 3, 4, 5}) == {1, 2}
