"""Gates: channels only the holders of a badge can see, and what they looked like before.

The adapter changes the channel's permission overwrites in Discord; the service decides
whether it may, and records what to restore. Both the check before and the record after
enforce the same rules, so no adapter can record a gate the rules refuse.
"""

from __future__ import annotations

from badges import validation
from badges.errors import AlreadyGated, NotGated, NotLinked, clip
from badges.model import Badge, EventKind, Gate, Overwrite
from badges.permissions import Actor, Operation, authorize
from badges.service.core import ServiceCore, Tx


class Gates:
    def __init__(self, core: ServiceCore) -> None:
        self._core = core

    async def _check(
        self, tx: Tx, guild_id: int, badge_id: str, channel_id: int, *, lock: bool = True
    ) -> Badge:
        badge = await tx.badge(guild_id, badge_id, lock=lock)
        if badge.role_id is None:
            raise NotLinked(
                f"'{clip(badge.name)}' has no role to open channels with: link one first."
            )
        others = await tx.uow.gates.of_channel(guild_id, channel_id, lock=lock)
        if any(g.badge_id == badge.id for g in others):
            raise AlreadyGated(f"That channel is already gated by '{clip(badge.name)}'.")
        return badge

    async def check(self, actor: Actor, guild_id: int, badge_id: str, channel_id: int) -> Badge:
        """May ``actor`` gate this channel with this badge? Ask before changing Discord."""
        authorize(actor, Operation.GATE_CHANNEL)
        validation.snowflake("channel", channel_id)
        async with self._core.read() as uow:
            tx = Tx(self._core, uow)
            return await self._check(tx, guild_id, badge_id, channel_id, lock=False)

    async def add(
        self,
        actor: Actor,
        guild_id: int,
        badge_id: str,
        channel_id: int,
        *,
        everyone_before: Overwrite | None,
        role_before: Overwrite | None,
    ) -> Gate:
        """Record that a channel is now open only to the badge's role (the adapter has set
        the overwrites), with what they were before so ungating can restore them."""
        authorize(actor, Operation.GATE_CHANNEL)
        validation.snowflake("channel", channel_id)
        async with self._core.write() as tx:
            await tx.uow.lock(channel_id)
            badge = await self._check(tx, guild_id, badge_id, channel_id)
            assert badge.role_id is not None
            others = await tx.uow.gates.of_channel(guild_id, channel_id)
            if others:  # @everyone was already hidden by the first gate: keep what it replaced
                everyone_before = others[0].everyone_before
            gate = Gate(guild_id, badge.id, channel_id, badge.role_id, everyone_before, role_before)
            await tx.uow.gates.add(gate)
            tx.record(
                self._core.event(actor, EventKind.GATE_CHANGED, badge, after={"gated": channel_id})
            )
        return gate

    async def remove(
        self, actor: Actor, guild_id: int, badge_id: str, channel_id: int
    ) -> tuple[Gate, list[Gate]]:
        """Forget a gate; returns it and the gates that remain on the channel. The channel's
        gates are locked while deciding, so of two concurrent ungates exactly one sees none
        remaining (and reopens the channel to everyone)."""
        authorize(actor, Operation.GATE_CHANNEL)
        async with self._core.write() as tx:
            await tx.uow.lock(channel_id)
            badge = await tx.badge(guild_id, badge_id)
            await tx.uow.gates.of_channel(guild_id, channel_id, lock=True)
            gate = await tx.uow.gates.remove(guild_id, badge.id, channel_id)
            if gate is None:
                raise NotGated(f"That channel is not gated by '{clip(badge.name)}'.")
            remaining = await tx.uow.gates.of_channel(guild_id, channel_id)
            tx.record(
                self._core.event(
                    actor, EventKind.GATE_CHANGED, badge, after={"ungated": channel_id}
                )
            )
        return gate, remaining

    async def of(self, guild_id: int, badge_id: str | None = None) -> list[Gate]:
        """Gates of one badge, or of the whole guild."""
        async with self._core.read() as uow:
            if badge_id is None:
                return await uow.gates.of_guild(guild_id)
            return await uow.gates.of_badge(guild_id, badge_id)
