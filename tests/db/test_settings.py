"""Guild settings: which roles grant which level, and the log channel."""

from __future__ import annotations

import pytest

from badges.errors import Forbidden, InvalidInput
from badges.permissions import Level
from badges.service import BadgeService
from db.database import Database
from tests.conftest import ADMIN, GUILD, MOD, OTHER_GUILD, SUPER
from tests.db.helpers import snapshot


async def test_admin_maps_a_moderator_role(service: BadgeService) -> None:
    settings = await service.config.set_role_level(ADMIN, GUILD, 77, Level.MODERATOR)
    assert settings.moderator_role_ids == {77}
    assert settings.role_levels() == {77: Level.MODERATOR}
    assert (await service.config.get(OTHER_GUILD)).moderator_role_ids == frozenset()


async def test_only_super_admin_grants_or_removes_admin_roles(
    service: BadgeService, database: Database
) -> None:
    before = await snapshot(database)
    with pytest.raises(Forbidden, match="Super Admin level to give a role the Admin level"):
        await service.config.set_role_level(ADMIN, GUILD, 88, Level.ADMIN)
    assert await snapshot(database) == before
    await service.config.set_role_level(SUPER, GUILD, 88, Level.ADMIN)
    with pytest.raises(Forbidden, match="change an Admin role"):
        await service.config.unset_role(ADMIN, GUILD, 88)
    with pytest.raises(Forbidden, match="change an Admin role"):
        await service.config.set_role_level(ADMIN, GUILD, 88, Level.MODERATOR)
    settings = await service.config.unset_role(SUPER, GUILD, 88)
    assert settings.admin_role_ids == frozenset()


async def test_moderators_cannot_configure(service: BadgeService, database: Database) -> None:
    before = await snapshot(database)
    with pytest.raises(Forbidden):
        await service.config.set_role_level(MOD, GUILD, 77, Level.MODERATOR)
    with pytest.raises(Forbidden):
        await service.config.set_log_channel(MOD, GUILD, 99)
    assert await snapshot(database) == before


async def test_bad_level_or_id_is_refused(service: BadgeService) -> None:
    with pytest.raises(InvalidInput, match="Moderator or the Admin level"):
        await service.config.set_role_level(SUPER, GUILD, 77, Level.SUPER_ADMIN)
    with pytest.raises(InvalidInput):
        await service.config.set_log_channel(ADMIN, GUILD, 0)


async def test_remapping_a_role_replaces_its_level(service: BadgeService) -> None:
    await service.config.set_role_level(SUPER, GUILD, 77, Level.MODERATOR)
    settings = await service.config.set_role_level(SUPER, GUILD, 77, Level.ADMIN)
    assert settings.admin_role_ids == {77}
    assert settings.moderator_role_ids == frozenset()


async def test_log_channel_set_and_cleared(service: BadgeService) -> None:
    assert (await service.config.set_log_channel(ADMIN, GUILD, 99)).log_channel_id == 99
    assert (await service.config.set_log_channel(ADMIN, GUILD, 100)).log_channel_id == 100
    assert (await service.config.set_log_channel(ADMIN, GUILD, None)).log_channel_id is None
