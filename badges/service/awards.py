"""Awards: giving and taking badges, one member or many, and reading who holds what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from badges import validation
from badges.errors import (
    AlreadyAwarded,
    BadgeInactive,
    BadgeNotFound,
    InvalidInput,
    NotAMember,
    NotAwarded,
    clip,
)
from badges.model import (
    AuditEvent,
    Award,
    BulkAwardResult,
    EventKind,
    MemberBadge,
    Page,
    RoleAction,
    Slice,
)
from badges.permissions import Actor, Operation, authorize
from badges.role_rules import MemberFacts
from badges.service.core import ServiceCore, keyset, page_bounds, walk_bounds
from badges.service.role_links import RoleLinks

BULK_MAX = 10_000
NOT_A_MEMBER = "not a member of this server"
A_BOT = "a bot (bots cannot hold badges)"


class Awards:
    def __init__(self, core: ServiceCore, roles: RoleLinks) -> None:
        self._core = core
        self._roles = roles

    async def _members(self, guild_id: int, user_ids: list[int]) -> dict[int, MemberFacts] | None:
        return await self._core.directory.members(guild_id, user_ids) if user_ids else {}

    async def award(
        self,
        actor: Actor,
        guild_id: int,
        badge_id: str,
        user_id: int,
        *,
        reason: str | None = None,
    ) -> MemberBadge:
        authorize(actor, Operation.AWARD)
        validation.snowflake("member", user_id)
        clean_reason = validation.reason(reason)
        members = await self._members(guild_id, [user_id])
        if members is not None:
            if user_id not in members:
                raise NotAMember("That user is not a member of this server.")
            if members[user_id].is_bot:
                raise NotAMember("Bots cannot hold badges: pick a member.")
        async with self._core.write() as tx:
            badge = await tx.badge(guild_id, badge_id)
            if not badge.is_active:
                raise BadgeInactive(f"Cannot award inactive badge '{clip(badge.name)}'.")
            await self._roles.check_award(actor, badge, [user_id])
            award = self._core.new_award(actor, badge, user_id, clean_reason)
            if not await tx.uow.awards.add(award):
                raise AlreadyAwarded(f"User already has this badge ('{clip(badge.name)}').")
            count = await tx.uow.badges.adjust_count(badge.id, 1)
            await tx.queue_role(badge, RoleAction.ADD, [user_id], clean_reason)
            tx.record(
                self._core.event(
                    actor, EventKind.AWARDED, badge, user_id=user_id, reason=clean_reason
                )
            )
        return MemberBadge(badge=replace(badge, awarded_count=count), award=award)

    async def revoke(
        self,
        actor: Actor,
        guild_id: int,
        badge_id: str,
        user_id: int,
        *,
        reason: str | None = None,
    ) -> MemberBadge:
        """End an award; returns the award that ended and the badge with its new count."""
        authorize(actor, Operation.REVOKE)
        validation.snowflake("member", user_id)
        clean_reason = validation.reason(reason)
        async with self._core.write() as tx:
            badge = await tx.badge(guild_id, badge_id)
            award = await tx.uow.awards.remove(guild_id, badge.id, user_id)
            if award is None:
                raise NotAwarded(f"User does not have this badge ('{clip(badge.name)}').")
            count = await tx.uow.badges.adjust_count(badge.id, -1)
            await tx.queue_role(badge, RoleAction.REMOVE, [user_id], clean_reason)
            tx.record(
                self._core.event(
                    actor, EventKind.REVOKED, badge, user_id=user_id, reason=clean_reason
                )
            )
        return MemberBadge(badge=replace(badge, awarded_count=count), award=award)

    async def bulk_award(
        self,
        actor: Actor,
        guild_id: int,
        badge_id: str,
        user_ids: Iterable[int],
        *,
        reason: str | None = None,
    ) -> BulkAwardResult:
        """Award one badge to many members in one transaction. Invalid ids, users who are
        not members and bots are refused, each with its reason; duplicates count once."""
        authorize(actor, Operation.AWARD)
        clean_reason = validation.reason(reason)
        refusals: dict[int, str] = {}
        wanted: list[int] = []
        seen: set[int] = set()
        for uid in user_ids:
            if uid in seen:
                continue
            seen.add(uid)
            if not 0 < uid < 2**63:
                refusals[uid] = "not a valid Discord id"
            else:
                wanted.append(uid)
        if len(wanted) > BULK_MAX:
            raise InvalidInput(
                "members", f"At most {BULK_MAX} members can be awarded at once ({len(wanted)})."
            )
        members = await self._members(guild_id, wanted)
        if members is not None:
            for uid in wanted:
                if uid not in members:
                    refusals[uid] = NOT_A_MEMBER
                elif members[uid].is_bot:
                    refusals[uid] = A_BOT
            wanted = [uid for uid in wanted if uid not in refusals]
        async with self._core.write() as tx:
            badge = await tx.badge(guild_id, badge_id)
            if not badge.is_active:
                raise BadgeInactive(f"Cannot award inactive badge '{clip(badge.name)}'.")
            await self._roles.check_award(actor, badge, wanted)
            awards = [self._core.new_award(actor, badge, uid, clean_reason) for uid in wanted]
            inserted = await tx.uow.awards.add_many(awards)
            awarded = [uid for uid in wanted if uid in inserted]
            already = [uid for uid in wanted if uid not in inserted]
            count = badge.awarded_count
            if awarded:
                count = await tx.uow.badges.adjust_count(badge.id, len(awarded))
                await tx.queue_role(badge, RoleAction.ADD, awarded, clean_reason)
                tx.record_all(
                    self._core.event(
                        actor, EventKind.AWARDED, badge, user_id=uid, reason=clean_reason
                    )
                    for uid in awarded
                )
        return BulkAwardResult(
            badge=replace(badge, awarded_count=count),
            awarded=awarded,
            already_held=already,
            refused=refusals,
        )

    # -- reads -----------------------------------------------------------------------------

    async def holders(
        self, guild_id: int, badge_id: str, *, offset: int = 0, limit: int = 25
    ) -> Page[Award]:
        """Members holding the badge, newest award first."""
        offset, limit = page_bounds(offset, limit)
        async with self._core.read() as uow:
            badge = await uow.badges.get(guild_id, badge_id)
            if badge is None:
                raise BadgeNotFound()
            items = await uow.awards.holders(guild_id, badge.id, offset=offset, limit=limit)
        return Page(items=items, total=badge.awarded_count, offset=offset, limit=limit)

    async def of_member(
        self, guild_id: int, user_id: int, *, offset: int = 0, limit: int = 25
    ) -> Page[MemberBadge]:
        offset, limit = page_bounds(offset, limit)
        async with self._core.read() as uow:
            return await uow.awards.of_member(guild_id, user_id, offset=offset, limit=limit)

    async def history(
        self, actor: Actor, guild_id: int, user_id: int, *, offset: int = 0, limit: int = 25
    ) -> Page[AuditEvent]:
        """Awards and revocations of a member, newest first. Members may read their own;
        reading someone else's needs the Moderator level."""
        if actor.user_id != user_id:
            authorize(actor, Operation.READ_OTHERS_HISTORY)
        offset, limit = page_bounds(offset, limit)
        async with self._core.read() as uow:
            return await uow.audit.member_history(guild_id, user_id, offset=offset, limit=limit)

    # -- keyset walks (the REST API's pages: stable while awards are added) ------------------

    async def holders_after(
        self, guild_id: int, badge_id: str, *, key: tuple[Any, ...] | None = None, limit: int = 50
    ) -> Slice[Award]:
        """Holders of the badge, newest award first, after ``key``."""
        walk_bounds(limit)
        after = keyset(key, (datetime, int))
        async with self._core.read() as uow:
            badge = await uow.badges.get(guild_id, badge_id)
            if badge is None:
                raise BadgeNotFound()
            rows = await uow.awards.holders_after(guild_id, badge.id, key=after, limit=limit + 1)
        items = rows[:limit]
        more = len(rows) > limit
        return Slice(items, (items[-1].awarded_at, items[-1].user_id) if more else None)

    async def of_member_after(
        self, guild_id: int, user_id: int, *, key: tuple[Any, ...] | None = None, limit: int = 50
    ) -> Slice[MemberBadge]:
        """A member's badges, newest award first, after ``key``."""
        walk_bounds(limit)
        after = keyset(key, (datetime, str))
        async with self._core.read() as uow:
            rows = await uow.awards.of_member_after(guild_id, user_id, key=after, limit=limit + 1)
        items = rows[:limit]
        more = len(rows) > limit
        return Slice(items, (items[-1].award.awarded_at, items[-1].badge.id) if more else None)

    async def history_before(
        self,
        actor: Actor,
        guild_id: int,
        user_id: int,
        *,
        key: tuple[Any, ...] | None = None,
        limit: int = 50,
    ) -> Slice[AuditEvent]:
        """A member's awards and revocations, newest first, after ``key``. Reading someone
        else's needs the Moderator level."""
        if actor.user_id != user_id:
            authorize(actor, Operation.READ_OTHERS_HISTORY)
        walk_bounds(limit)
        after = keyset(key, (int,))
        before_id = after[0] if after else None
        async with self._core.read() as uow:
            rows = await uow.audit.member_history_before(
                guild_id, user_id, before_id=before_id, limit=limit + 1
            )
        items = rows[:limit]
        return Slice(items, (items[-1].id,) if len(rows) > limit else None)
