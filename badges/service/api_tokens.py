"""API tokens: credentials for the REST API, made by admins, shown once, stored as a hash."""

from __future__ import annotations

import hashlib
import secrets

from badges import validation
from badges.errors import InvalidInput, TokenNameTaken, TokenNotFound
from badges.model import ApiToken, EventKind, IssuedToken
from badges.permissions import Actor, Level, Operation, authorize
from badges.service.core import ServiceCore

PREFIX = "bbt_"
"""Every secret starts with it, so secret scanners and people can tell what leaked."""
TOKENS_MAX = 25
"""Live tokens per guild: enough for every integration, few enough to review at a glance."""


def secret_hash(secret: str) -> str:
    """What is stored and looked up: a secret has 256 random bits, so a fast hash is safe."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokens:
    def __init__(self, core: ServiceCore) -> None:
        self._core = core

    async def create(self, actor: Actor, guild_id: int, level: Level, name: str) -> IssuedToken:
        """Make a token acting at ``level`` (Moderator or Admin; an Admin token needs a super
        admin). Its actions are recorded under ``name``."""
        authorize(actor, Operation.MANAGE_TOKENS)
        if level not in (Level.MODERATOR, Level.ADMIN):
            raise InvalidInput("level", "An API token acts at the Moderator or the Admin level.")
        if level is Level.ADMIN:
            authorize(actor, Operation.ISSUE_ADMIN_TOKEN)
        clean = validation.token_name(name)
        secret = PREFIX + secrets.token_urlsafe(32)
        async with self._core.write() as tx:
            await tx.uow.lock(guild_id)
            live = await tx.uow.api_tokens.of_guild(guild_id)
            key = validation.name_key(clean)
            if any(validation.name_key(t.name) == key for t in live):
                raise TokenNameTaken(clean)
            if len(live) >= TOKENS_MAX:
                raise InvalidInput(
                    "name",
                    f"This server has {TOKENS_MAX} API tokens, the most it can have: "
                    "revoke one first.",
                )
            token = await tx.uow.api_tokens.add(
                ApiToken(
                    id=0,
                    guild_id=guild_id,
                    name=clean,
                    level=level,
                    created_by=actor.user_id,
                    created_by_name=actor.display_name,
                    created_at=self._core.clock(),
                ),
                secret_hash(secret),
            )
            tx.record(
                self._core.event(
                    actor,
                    EventKind.API_TOKEN_CREATED,
                    None,
                    guild_id=guild_id,
                    after={"token_id": token.id, "name": clean, "level": level.name},
                )
            )
        return IssuedToken(token=token, secret=secret)

    async def list(self, actor: Actor, guild_id: int) -> list[ApiToken]:
        authorize(actor, Operation.MANAGE_TOKENS)
        async with self._core.read() as uow:
            return await uow.api_tokens.of_guild(guild_id)

    async def revoke(self, actor: Actor, guild_id: int, token_id: int) -> ApiToken:
        """Revoke a token; the next request made with it is refused. Revoking an Admin token
        needs a super admin, as making one does."""
        authorize(actor, Operation.MANAGE_TOKENS)
        async with self._core.write() as tx:
            token = await tx.uow.api_tokens.get(guild_id, token_id)
            if token is None or not token.active:
                raise TokenNotFound()
            if token.level >= Level.ADMIN:
                authorize(actor, Operation.ISSUE_ADMIN_TOKEN)
            now = self._core.clock()
            if not await tx.uow.api_tokens.revoke(guild_id, token_id, now):
                raise TokenNotFound()
            tx.record(
                self._core.event(
                    actor,
                    EventKind.API_TOKEN_REVOKED,
                    None,
                    guild_id=guild_id,
                    before={"token_id": token.id, "name": token.name, "level": token.level.name},
                )
            )
        return token

    async def authenticate(self, secret: str) -> ApiToken | None:
        """The active token with this secret, or None (unknown, malformed or revoked)."""
        if not secret.startswith(PREFIX) or len(secret) > 100:
            return None
        async with self._core.read() as uow:
            token = await uow.api_tokens.by_hash(secret_hash(secret))
        return token if token is not None and token.active else None

    @staticmethod
    def actor(token: ApiToken) -> Actor:
        """Who acts when the token is used: its creator's id (so self-award rules hold), its
        name (what history and the log channel show) and its level."""
        return Actor(token.created_by, token.name, token.level)
