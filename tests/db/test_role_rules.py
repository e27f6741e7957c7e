"""The role rules and the role queue's latest-decision rule, on the configured backend."""

from __future__ import annotations

import pytest

from badges.errors import Forbidden, LevelRoleConflict, RoleRefused
from badges.model import RoleAction
from badges.permissions import Level
from badges.role_rules import PERMISSIONS
from badges.service import BadgeService
from tests.conftest import ADMIN, GUILD, MOD, PLAIN_ADMIN, SUPER
from tests.fakes import FakeDiscord

ROLE = 5_000_000_000_000_001
BAN = PERMISSIONS["ban_members"]


async def _linked(service: BadgeService, actor=ADMIN) -> str:  # type: ignore[no-untyped-def]
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    await service.roles.link(actor, GUILD, badge.id, ROLE)
    return badge.id


async def _apply_all(service: BadgeService) -> list[tuple[RoleAction, int | None]]:
    applied = []
    for change in await service.queue.due(GUILD, limit=100):
        await service.queue.applied(change)
        applied.append((change.action, change.user_id))
    return applied


async def test_a_failed_add_never_comes_back_after_a_revoke(service: BadgeService) -> None:
    badge_id = await _linked(service)
    await service.awards.award(MOD, GUILD, badge_id, 11)
    (add,) = await service.queue.due(GUILD)
    await service.queue.blocked(GUILD, ROLE, "above my highest role")  # the add fails
    await service.awards.revoke(MOD, GUILD, badge_id, 11)  # then the member is revoked
    assert await _apply_all(service) == [(RoleAction.REMOVE, 11)]
    # the admin fixes the hierarchy and syncs: nothing old is replayed
    assert await service.queue.retry_failed(MOD, GUILD) == 0
    assert await service.queue.due(GUILD) == []
    assert add.action is RoleAction.ADD


async def test_a_retry_re_derives_the_intent_from_the_awards(service: BadgeService) -> None:
    badge_id = await _linked(service)
    await service.awards.bulk_award(MOD, GUILD, badge_id, [11, 12])
    await service.queue.blocked(GUILD, ROLE, "above my highest role")
    # member 12 loses the badge while the role is blocked; its removal is then blocked too
    await service.awards.revoke(MOD, GUILD, badge_id, 12)
    await service.queue.blocked(GUILD, ROLE, "above my highest role")
    assert await service.queue.retry_failed(MOD, GUILD) == 2
    assert sorted(await _apply_all(service)) == [(RoleAction.ADD, 11), (RoleAction.REMOVE, 12)]


async def test_an_outcome_of_a_replaced_intent_does_not_count(service: BadgeService) -> None:
    badge_id = await _linked(service)
    await service.awards.award(MOD, GUILD, badge_id, 11)
    (add,) = await service.queue.due(GUILD)
    await service.awards.revoke(MOD, GUILD, badge_id, 11)  # replaces the add meanwhile
    assert await service.queue.applied(add) is False  # the worker's late report is ignored
    assert [(c.action, c.user_id) for c in await service.queue.due(GUILD)] == [
        (RoleAction.REMOVE, 11)
    ]


async def test_deleting_the_role_drops_its_failed_changes(service: BadgeService) -> None:
    badge_id = await _linked(service)
    await service.awards.award(MOD, GUILD, badge_id, 11)
    await service.queue.blocked(GUILD, ROLE, "above my highest role")
    await service.roles.role_deleted(GUILD, ROLE)
    assert (await service.queue.status(GUILD))[:2] == (0, 0)


async def test_progress_counts_failures(service: BadgeService) -> None:
    badge_id = await _linked(service)
    await service.awards.bulk_award(MOD, GUILD, badge_id, [11, 12, 13])
    await service.queue.blocked(GUILD, ROLE, "above my highest role")
    progress = await service.queue.progress(GUILD, badge_id)
    assert (progress.pending, progress.failed, progress.error) == (0, 3, "above my highest role")


async def test_a_level_role_and_a_badge_role_exclude_each_other(service: BadgeService) -> None:
    await _linked(service)
    with pytest.raises(LevelRoleConflict, match="handed out by the badge 'Helper'"):
        await service.config.set_role_level(ADMIN, GUILD, ROLE, Level.MODERATOR)
    other = await service.catalog.create(ADMIN, GUILD, name="Other")
    await service.config.set_role_level(ADMIN, GUILD, ROLE + 1, Level.MODERATOR)
    with pytest.raises(RoleRefused, match="grants a badge-system level") as err:
        await service.roles.link(ADMIN, GUILD, other.id, ROLE + 1)
    assert err.value.reason == "level_role"


async def test_linking_needs_manage_roles(service: BadgeService) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    with pytest.raises(Forbidden, match="Manage Roles permission"):
        await service.roles.link(PLAIN_ADMIN, GUILD, badge.id, ROLE)
    with pytest.raises(Forbidden, match="Manage Roles permission"):
        await service.catalog.update(PLAIN_ADMIN, GUILD, badge.id, role_id=ROLE)


async def test_a_power_role_needs_a_super_admin_to_link_and_an_admin_to_award(
    service: BadgeService, discord_facts: FakeDiscord
) -> None:
    discord_facts.role_with(ROLE, permissions=BAN)
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    with pytest.raises(RoleRefused, match="Ban Members") as err:
        await service.roles.link(ADMIN, GUILD, badge.id, ROLE)
    assert err.value.reason == "power"
    await service.roles.link(SUPER, GUILD, badge.id, ROLE)
    with pytest.raises(Forbidden, match="Admin level"):
        await service.awards.award(MOD, GUILD, badge.id, 11)
    with pytest.raises(Forbidden, match="themselves"):
        await service.awards.award(ADMIN, GUILD, badge.id, ADMIN.user_id)
    await service.awards.award(ADMIN, GUILD, badge.id, 11)


async def test_a_role_that_gains_power_is_no_longer_handed_out(
    service: BadgeService, discord_facts: FakeDiscord
) -> None:
    discord_facts.role_with(ROLE)
    badge_id = await _linked(service)
    await service.awards.award(MOD, GUILD, badge_id, 11)
    discord_facts.role_with(ROLE, permissions=PERMISSIONS["administrator"])
    with pytest.raises(RoleRefused, match="gained permissions") as err:
        await service.awards.award(ADMIN, GUILD, badge_id, 12)
    assert err.value.reason == "gained_power"
    (pending,) = await service.queue.due(GUILD)
    problem = await service.queue.problem(pending)
    assert problem is not None
    assert problem.reason == "gained_power"
    await service.awards.revoke(MOD, GUILD, badge_id, 11)  # taking it away stays possible
    (removal,) = await service.queue.due(GUILD)
    assert await service.queue.problem(removal) is None


async def test_edit_role_id_follows_every_link_rule(
    service: BadgeService, discord_facts: FakeDiscord
) -> None:
    badge_id = await _linked(service)
    await service.awards.award(MOD, GUILD, badge_id, 11)
    await _apply_all(service)
    discord_facts.role_with(ROLE + 5, permissions=BAN)
    with pytest.raises(RoleRefused, match="Ban Members"):
        await service.catalog.update(ADMIN, GUILD, badge_id, role_id=ROLE + 5)
    await service.catalog.update(ADMIN, GUILD, badge_id, role_id=ROLE + 6)
    queued = sorted(
        (c.role_id, c.action, c.user_id) for c in await service.queue.due(GUILD, limit=10)
    )
    assert queued == [(ROLE, RoleAction.REMOVE, 11), (ROLE + 6, RoleAction.ADD, 11)]
