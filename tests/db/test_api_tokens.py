"""API tokens in the service: who may make which, names, limits, revocation, and two admins
making the same name at once (PostgreSQL: real concurrent transactions)."""

from __future__ import annotations

import asyncio

import pytest

from badges.errors import Forbidden, InvalidInput, TokenNameTaken, TokenNotFound
from badges.permissions import Level
from badges.service import BadgeService
from badges.service.api_tokens import TOKENS_MAX, secret_hash
from db.database import Database
from tests.conftest import ADMIN, GUILD, MEMBER, MOD, OTHER_GUILD, SUPER


async def test_levels_and_who_may_make_them(service: BadgeService) -> None:
    made = await service.tokens.create(ADMIN, GUILD, Level.MODERATOR, "Shop")
    assert made.token.level is Level.MODERATOR
    assert made.secret.startswith("bbt_")
    with pytest.raises(Forbidden):
        await service.tokens.create(ADMIN, GUILD, Level.ADMIN, "Ops")
    assert (
        await service.tokens.create(SUPER, GUILD, Level.ADMIN, "Ops")
    ).token.level is Level.ADMIN
    for actor in (MOD, MEMBER):
        with pytest.raises(Forbidden):
            await service.tokens.create(actor, GUILD, Level.MODERATOR, "x")
    for level in (Level.MEMBER, Level.SUPER_ADMIN):
        with pytest.raises(InvalidInput):
            await service.tokens.create(SUPER, GUILD, level, "x")


async def test_only_the_hash_is_stored_and_revocation_is_immediate(
    service: BadgeService, database: Database
) -> None:
    made = await service.tokens.create(ADMIN, GUILD, Level.MODERATOR, "Shop")
    async with database.engine.connect() as conn:
        dump = str((await conn.exec_driver_sql("SELECT * FROM api_tokens")).all())
    assert made.secret not in dump
    assert secret_hash(made.secret) in dump
    assert (await service.tokens.authenticate(made.secret)) == made.token
    await service.tokens.revoke(ADMIN, GUILD, made.token.id)
    assert await service.tokens.authenticate(made.secret) is None
    with pytest.raises(TokenNotFound):
        await service.tokens.revoke(ADMIN, GUILD, made.token.id)
    assert await service.tokens.authenticate("bbt_" + "x" * 43) is None
    assert await service.tokens.authenticate("not a token") is None


async def test_an_admin_token_is_revoked_by_a_super_admin_only(service: BadgeService) -> None:
    ops = await service.tokens.create(SUPER, GUILD, Level.ADMIN, "Ops")
    with pytest.raises(Forbidden):
        await service.tokens.revoke(ADMIN, GUILD, ops.token.id)
    with pytest.raises(TokenNotFound):
        await service.tokens.revoke(SUPER, OTHER_GUILD, ops.token.id)
    await service.tokens.revoke(SUPER, GUILD, ops.token.id)


async def test_names_are_unique_by_look_and_tokens_are_capped(service: BadgeService) -> None:
    await service.tokens.create(ADMIN, GUILD, Level.MODERATOR, "Shop")
    with pytest.raises(TokenNameTaken):
        await service.tokens.create(ADMIN, GUILD, Level.MODERATOR, "SHOP")
    await service.tokens.create(ADMIN, OTHER_GUILD, Level.MODERATOR, "Shop")
    for i in range(TOKENS_MAX - 1):
        await service.tokens.create(ADMIN, GUILD, Level.MODERATOR, f"app {i}")
    with pytest.raises(InvalidInput):
        await service.tokens.create(ADMIN, GUILD, Level.MODERATOR, "one too many")


async def test_two_admins_making_one_name_at_once_make_one_token(service: BadgeService) -> None:
    results = await asyncio.gather(
        *(service.tokens.create(ADMIN, GUILD, Level.MODERATOR, "Shop") for _ in range(6)),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    assert len(made) == 1, results
    assert all(isinstance(r, TokenNameTaken) for r in results if isinstance(r, BaseException))
    assert [t.name for t in await service.tokens.list(ADMIN, GUILD)] == ["Shop"]
