"""Role links, the role-change queue, gates and reconciliation, on the configured backend."""

from __future__ import annotations

import pytest

from badges.errors import Forbidden, RoleConflict, RoleTaken
from badges.model import EventKind, Overwrite, RoleAction, RoleDrift
from badges.service import BadgeService
from db.database import Database
from tests.conftest import ADMIN, GUILD, MEMBER, MOD, OTHER_GUILD
from tests.db.helpers import snapshot

ROLE = 5_000_000_000_000_001


async def _queue(service: BadgeService, guild: int = GUILD) -> list[tuple[str, int | None]]:
    return [(c.action.value, c.user_id) for c in await service.queue.due(guild, limit=100)]


async def _linked(service: BadgeService, holders: range = range(0)) -> str:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    if holders:
        await service.awards.bulk_award(MOD, GUILD, badge.id, holders)
    await service.roles.link(ADMIN, GUILD, badge.id, ROLE)
    return badge.id


async def test_award_and_revoke_queue_role_changes_in_the_same_transaction(
    service: BadgeService,
) -> None:
    badge_id = await _linked(service)
    await service.awards.award(MOD, GUILD, badge_id, 11)
    await service.awards.award(MOD, GUILD, badge_id, 12)
    assert await _queue(service) == [("add", 11), ("add", 12)]
    await service.awards.revoke(MOD, GUILD, badge_id, 11)
    # the removal replaces the add still pending for that member: only the latest counts
    assert await _queue(service) == [("add", 12), ("remove", 11)]


async def test_a_retried_add_cannot_land_after_a_later_revoke(service: BadgeService) -> None:
    badge_id = await _linked(service)
    await service.awards.award(MOD, GUILD, badge_id, 11)
    (add,) = await service.queue.due(GUILD)
    await service.queue.retry(add, "503", delay=5)  # Discord hiccup: later
    await service.awards.revoke(MOD, GUILD, badge_id, 11)
    assert await _queue(service) == [("remove", 11)]
    assert (await service.queue.status(GUILD))[0] == 1  # the retried add is gone


async def test_a_blocked_role_fails_all_its_changes_at_once_and_can_be_retried(
    service: BadgeService,
) -> None:
    badge_id = await _linked(service, range(1, 6))
    seen = []

    async def listener(events):  # type: ignore[no-untyped-def]
        seen.extend(events)

    service.subscribe(listener)
    assert await service.queue.blocked(GUILD, ROLE, "above my highest role") == 5
    assert [e.kind for e in seen] == [EventKind.ROLE_SYNC_FAILED]
    assert (await service.queue.status(GUILD))[:2] == (0, 5)
    with pytest.raises(Forbidden):
        await service.queue.retry_failed(MEMBER, GUILD)
    assert await service.queue.retry_failed(MOD, GUILD) == 5
    assert len(await _queue(service)) == 5
    assert badge_id


async def test_a_badge_without_role_queues_nothing(service: BadgeService) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Plain")
    await service.awards.award(MOD, GUILD, badge.id, 11)
    assert await _queue(service) == []


async def test_refused_award_queues_nothing(service: BadgeService, database: Database) -> None:
    badge_id = await _linked(service)
    await service.awards.award(MOD, GUILD, badge_id, 11)
    before = await snapshot(database)
    with pytest.raises(Exception, match="already has"):
        await service.awards.award(MOD, GUILD, badge_id, 11)
    assert await snapshot(database) == before


async def test_linking_gives_existing_holders_the_role(service: BadgeService) -> None:
    await _linked(service, range(1, 4))
    assert await _queue(service) == [("add", 1), ("add", 2), ("add", 3)]
    pending, failed, _ = await service.queue.status(GUILD)
    assert (pending, failed) == (3, 0)


async def test_a_role_backs_only_one_badge(service: BadgeService, database: Database) -> None:
    await _linked(service)
    other = await service.catalog.create(ADMIN, GUILD, name="Other")
    before = await snapshot(database)
    with pytest.raises(RoleTaken, match="already backs the badge 'Helper'"):
        await service.roles.link(ADMIN, GUILD, other.id, ROLE)
    assert await snapshot(database) == before
    # the same role id in another guild is another role
    theirs = await service.catalog.create(ADMIN, OTHER_GUILD, name="Helper")
    await service.roles.link(ADMIN, OTHER_GUILD, theirs.id, ROLE)


async def test_linking_needs_admin(service: BadgeService) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    with pytest.raises(Forbidden):
        await service.roles.link(MOD, GUILD, badge.id, ROLE)


async def test_unlink_removes_or_keeps_roles_as_chosen(service: BadgeService) -> None:
    badge_id = await _linked(service, range(1, 3))
    for change in await service.queue.due(GUILD):
        await service.queue.applied(change)
    _, queued = await service.roles.unlink(ADMIN, GUILD, badge_id, remove_from_holders=False)
    assert queued == 0
    assert await _queue(service) == []
    await service.roles.link(ADMIN, GUILD, badge_id, ROLE)
    for change in await service.queue.due(GUILD):
        await service.queue.applied(change)
    _, queued = await service.roles.unlink(ADMIN, GUILD, badge_id, remove_from_holders=True)
    assert queued == 2
    assert await _queue(service) == [("remove", 1), ("remove", 2)]
    assert (await service.catalog.get(GUILD, badge_id)).role_id is None
    with pytest.raises(RoleConflict, match="has no linked role"):
        await service.roles.unlink(ADMIN, GUILD, badge_id, remove_from_holders=True)


async def test_deleting_a_badge_removes_its_role_from_holders(service: BadgeService) -> None:
    badge_id = await _linked(service, range(1, 3))
    for change in await service.queue.due(GUILD):
        await service.queue.applied(change)
    await service.catalog.delete(ADMIN, GUILD, badge_id)
    assert await _queue(service) == [("remove", 1), ("remove", 2)]


async def test_deleting_a_badge_deletes_the_role_the_bot_made(service: BadgeService) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    await service.roles.link(ADMIN, GUILD, badge.id, ROLE, created=True)
    await service.awards.bulk_award(MOD, GUILD, badge.id, range(1, 3))
    for change in await service.queue.due(GUILD):
        await service.queue.applied(change)
    await service.catalog.delete(ADMIN, GUILD, badge.id)
    changes = await service.queue.due(GUILD)
    assert [(c.action, c.role_id) for c in changes] == [(RoleAction.DELETE_ROLE, ROLE)]


async def test_failures_are_kept_with_their_reason_and_not_due_again(
    service: BadgeService,
) -> None:
    badge_id = await _linked(service)
    await service.awards.award(MOD, GUILD, badge_id, 11)
    seen = []

    async def listener(events):  # type: ignore[no-untyped-def]
        seen.extend(events)

    service.subscribe(listener)
    (change,) = await service.queue.due(GUILD)
    await service.queue.failed([change], "Missing Permissions (50013)")
    assert await service.queue.due(GUILD) == []
    pending, failed, latest = await service.queue.status(GUILD)
    assert (pending, failed) == (0, 1)
    assert latest[0].error == "Missing Permissions (50013)"
    assert seen[0].kind is EventKind.ROLE_SYNC_FAILED


async def test_retry_waits_before_the_change_is_due_again(service: BadgeService) -> None:
    badge_id = await _linked(service)
    await service.awards.award(MOD, GUILD, badge_id, 11)
    (change,) = await service.queue.due(GUILD)
    await service.queue.retry(change, "429", delay=3600)
    assert await service.queue.due(GUILD) == []
    assert await service.queue.guilds_due() == []
    assert (await service.queue.status(GUILD))[0] == 1


async def test_reconcile_revert_mode_queues_fixes(service: BadgeService) -> None:
    badge_id = await _linked(service, range(1, 4))
    for change in await service.queue.due(GUILD):
        await service.queue.applied(change)
    dry = await service.reconcile.badge(MOD, GUILD, badge_id, {2, 3, 9}, dry_run=True)
    assert (dry.grant, dry.remove) == ({1}, {9})
    assert await _queue(service) == []
    await service.reconcile.badge(MOD, GUILD, badge_id, {2, 3, 9})
    assert await _queue(service) == [("add", 1), ("remove", 9)]
    again = await service.reconcile.badge(MOD, GUILD, badge_id, {2, 3, 9})
    assert again.empty  # the fixes are queued: not drift any more


async def test_reconcile_adopt_mode_records_awards_and_revocations(
    service: BadgeService,
) -> None:
    badge_id = await _linked(service, range(1, 4))
    for change in await service.queue.due(GUILD):
        await service.queue.applied(change)
    await service.config.set_role_drift(ADMIN, GUILD, RoleDrift.ADOPT)
    diff = await service.reconcile.badge(MOD, GUILD, badge_id, {2, 3, 9})
    assert (diff.award, diff.revoke) == ({9}, {1})
    holders = await service.awards.holders(GUILD, badge_id)
    assert {a.user_id for a in holders.items} == {2, 3, 9}
    assert holders.total == 3
    (award,) = [a for a in holders.items if a.user_id == 9]
    assert (award.awarded_by_name, award.reason) == ("Discord", None)
    assert await _queue(service) == []


async def test_reconcile_needs_moderator(service: BadgeService) -> None:
    badge_id = await _linked(service)
    with pytest.raises(Forbidden):
        await service.reconcile.badge(MEMBER, GUILD, badge_id, set())


async def test_returning_member_gets_badge_roles_back(service: BadgeService) -> None:
    badge_id = await _linked(service, range(1, 3))
    for change in await service.queue.due(GUILD):
        await service.queue.applied(change)
    await service.config.set_role_drift(ADMIN, GUILD, RoleDrift.ADOPT)  # joining never revokes
    result = await service.reconcile.member(GUILD, 1, set(), joined=True)
    assert [(b.id, d.grant) for b, d in result] == [(badge_id, {1})]
    assert await _queue(service) == [("add", 1)]
    assert (await service.catalog.get(GUILD, badge_id)).awarded_count == 2


async def test_member_role_edited_by_hand(service: BadgeService) -> None:
    badge_id = await _linked(service, range(1, 2))
    for change in await service.queue.due(GUILD):
        await service.queue.applied(change)
    # revert: a role given by hand to a non-holder is taken back
    await service.reconcile.member(GUILD, 7, {ROLE})
    assert await _queue(service) == [("remove", 7)]
    for change in await service.queue.due(GUILD):
        await service.queue.applied(change)
    # adopt: the same edit awards the badge
    await service.config.set_role_drift(ADMIN, GUILD, RoleDrift.ADOPT)
    await service.reconcile.member(GUILD, 8, {ROLE})
    assert 8 in {a.user_id for a in (await service.awards.holders(GUILD, badge_id)).items}


async def test_role_deleted_in_discord_unlinks_the_badge(service: BadgeService) -> None:
    badge_id = await _linked(service, range(1, 3))
    badge, closed = await service.roles.role_deleted(GUILD, ROLE)
    assert badge is not None
    assert closed == []
    assert (await service.catalog.get(GUILD, badge_id)).role_id is None
    assert await _queue(service) == []
    assert await service.roles.role_deleted(GUILD, ROLE) == (None, [])


async def test_a_second_gate_keeps_what_the_first_replaced(service: BadgeService) -> None:
    first = await _linked(service)
    other = await service.catalog.create(ADMIN, GUILD, name="Other")
    await service.roles.link(ADMIN, GUILD, other.id, ROLE + 1)
    public = Overwrite(allow=0, deny=0)
    hidden = Overwrite(allow=0, deny=1 << 10)
    await service.gates.add(ADMIN, GUILD, first, 77, everyone_before=public, role_before=None)
    second = await service.gates.add(
        ADMIN, GUILD, other.id, 77, everyone_before=hidden, role_before=None
    )
    assert second.everyone_before == public
    _, remaining = await service.gates.remove(ADMIN, GUILD, first, 77)
    last, none_left = await service.gates.remove(ADMIN, GUILD, other.id, 77)
    assert [g.badge_id for g in remaining] == [other.id]
    assert none_left == []
    assert last.everyone_before == public  # restoring it makes the channel public again


async def test_a_gating_badge_cannot_be_deleted(service: BadgeService) -> None:
    badge_id = await _linked(service)
    await service.gates.add(ADMIN, GUILD, badge_id, 77, everyone_before=None, role_before=None)
    with pytest.raises(RoleConflict, match="remove those gates first"):
        await service.catalog.delete(ADMIN, GUILD, badge_id)


async def test_gates_are_recorded_and_block_unlinking(service: BadgeService) -> None:
    badge_id = await _linked(service)
    before = Overwrite(allow=0, deny=1 << 11)
    gate = await service.gates.add(
        ADMIN, GUILD, badge_id, 77, everyone_before=before, role_before=None
    )
    assert (gate.role_id, gate.everyone_before) == (ROLE, before)
    assert [g.channel_id for g in await service.gates.of(GUILD, badge_id)] == [77]
    with pytest.raises(RoleConflict, match="already gated"):
        await service.gates.add(ADMIN, GUILD, badge_id, 77, everyone_before=None, role_before=None)
    with pytest.raises(RoleConflict, match="remove those gates first"):
        await service.roles.unlink(ADMIN, GUILD, badge_id, remove_from_holders=False)
    removed, remaining = await service.gates.remove(ADMIN, GUILD, badge_id, 77)
    assert removed.everyone_before == before
    assert remaining == []
    with pytest.raises(RoleConflict, match="is not gated"):
        await service.gates.remove(ADMIN, GUILD, badge_id, 77)


async def test_gate_needs_a_linked_role_and_admin(service: BadgeService) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Plain")
    with pytest.raises(RoleConflict, match="link one first"):
        await service.gates.add(ADMIN, GUILD, badge.id, 77, everyone_before=None, role_before=None)
    with pytest.raises(Forbidden):
        await service.gates.add(MOD, GUILD, badge.id, 77, everyone_before=None, role_before=None)
