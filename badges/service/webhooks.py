"""Webhooks: admins add URLs that receive the guild's changes; the outbox is written by
``ServiceCore.write`` in the same transaction as each change."""

from __future__ import annotations

import secrets

from badges import webhooks
from badges.errors import BadgeError, InvalidInput
from badges.model import EventKind, IssuedWebhook, Webhook
from badges.permissions import Actor, Operation, authorize
from badges.service.core import ServiceCore

WEBHOOKS_MAX = 10
SECRET_PREFIX = "whsec_"


class WebhookNotFound(BadgeError):
    code = "webhook_not_found"
    status = 404

    def __init__(self) -> None:
        super().__init__("No such webhook in this server.")


class Webhooks:
    def __init__(self, core: ServiceCore) -> None:
        self._core = core

    async def add(self, actor: Actor, guild_id: int, url: str) -> IssuedWebhook:
        """Send the guild's changes to ``url`` (public https only); its signing secret is
        returned once."""
        authorize(actor, Operation.CONFIGURE)
        clean = url.strip()
        policy = self._core.url_policy
        problem = webhooks.url_problem(clean, policy)
        if problem is None:
            addresses = await self._core.resolve(*webhooks.host_port(clean))
            problem = webhooks.address_problem(addresses, policy)
        if problem is not None:
            raise InvalidInput("url", problem)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        async with self._core.write() as tx:
            await tx.uow.lock(guild_id)
            existing = await tx.uow.webhooks.of_guild(guild_id)
            if any(w.url == clean for w in existing):
                raise InvalidInput("url", "This server already sends its changes to that URL.")
            if len(existing) >= WEBHOOKS_MAX:
                raise InvalidInput(
                    "url", f"A server can have {WEBHOOKS_MAX} webhooks: remove one first."
                )
            webhook = await tx.uow.webhooks.add(
                Webhook(0, guild_id, clean, actor.user_id, actor.display_name, self._core.clock()),
                secret,
            )
            tx.record(
                self._core.event(
                    actor,
                    EventKind.CONFIG_CHANGED,
                    None,
                    guild_id=guild_id,
                    after={"webhook_added": clean},
                )
            )
        return IssuedWebhook(webhook=webhook, secret=secret)

    async def list(self, actor: Actor, guild_id: int) -> list[Webhook]:
        authorize(actor, Operation.CONFIGURE)
        async with self._core.read() as uow:
            return await uow.webhooks.of_guild(guild_id)

    async def remove(self, actor: Actor, guild_id: int, webhook_id: int) -> Webhook:
        """Stop sending to a webhook; what it had still to receive is dropped."""
        authorize(actor, Operation.CONFIGURE)
        async with self._core.write() as tx:
            removed = await tx.uow.webhooks.remove(guild_id, webhook_id)
            if removed is None:
                raise WebhookNotFound()
            tx.record(
                self._core.event(
                    actor,
                    EventKind.CONFIG_CHANGED,
                    None,
                    guild_id=guild_id,
                    after={"webhook_removed": removed.url},
                )
            )
        return removed
