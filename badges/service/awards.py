"""Awards: giving and taking badges, one member or many, and reading who holds what."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from badges import validation
from badges.automation import AUTOMATIC_ID, AUTOMATIC_NAME, Awarders, AwardPolicy, Gift
from badges.errors import (
    AlreadyAwarded,
    AlreadyGiven,
    BadgeInactive,
    BadgeNotFound,
    Forbidden,
    InvalidInput,
    NotAMember,
    NotAwarded,
    QuotaReached,
    clip,
)
from badges.model import (
    AuditEvent,
    Award,
    Badge,
    BulkAwardResult,
    EventKind,
    MemberBadge,
    Page,
    RoleAction,
    Slice,
)
from badges.permissions import Actor, Level, Operation, authorize
from badges.ports import UnitOfWork
from badges.role_rules import MemberFacts
from badges.service.core import ServiceCore, Tx, keyset, page_bounds, walk_bounds
from badges.service.role_links import RoleLinks

BULK_MAX = 10_000
NOT_A_MEMBER = "not a member of this server"
A_BOT = "a bot (bots cannot hold badges)"
AUTOMATIC = Actor(AUTOMATIC_ID, AUTOMATIC_NAME, Level.ADMIN)
"""Who makes awards from a badge's rules. Rules are set by admins, so it acts as one."""


POWER_NOT_AUTOMATIC = (
    "This badge's role carries permissions beyond seeing and talking in channels: rules never "
    "hand it out (an admin awards it by hand)."
)


def may_give(actor: Actor, policy: AwardPolicy, user_id: int) -> bool:
    """Whether ``actor`` may award the badge under ``policy``; raise Forbidden if not.
    Returns True when the award is a gift (counted per giver: quota, once per recipient)."""
    members_badge = policy.awarders is Awarders.MEMBERS
    if actor.level >= Level.MODERATOR:
        if members_badge and actor.user_id == user_id:
            raise Forbidden("Nobody can give this badge to themselves.", required=Level.MEMBER)
        return members_badge
    if policy.awarders is Awarders.MODERATORS:
        authorize(actor, Operation.AWARD)
    if policy.awarders is Awarders.ROLE and policy.role_id not in actor.role_ids:
        raise Forbidden(
            "Only moderators and members with this badge's awarder role can award it.",
            required=Level.MODERATOR,
        )
    if actor.user_id == user_id and not policy.self_award:
        raise Forbidden("You cannot give this badge to yourself.", required=Level.MODERATOR)
    return True


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
        """Award the badge. Moderators may award any badge; members only those whose policy
        lets them (``service.rules.set_policy``), within its limits. A badge members give
        each other is a gift: each giver once per recipient, and it may have many givers."""
        validation.snowflake("member", user_id)
        clean_reason = validation.reason(reason)
        if actor.level < Level.MODERATOR:
            async with self._core.read() as uow:  # refuse before asking Discord anything
                badge = await uow.badges.get(guild_id, badge_id)
                if badge is None:
                    raise BadgeNotFound()
                may_give(actor, await uow.policies.get(guild_id, badge.id), user_id)
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
            policy = await tx.uow.policies.get(guild_id, badge.id)
            gift = may_give(actor, policy, user_id)
            await self._roles.check_award(actor, badge, [user_id])
            members_badge = gift and policy.awarders is Awarders.MEMBERS
            if members_badge:
                await self._give(tx, actor, badge, policy, user_id, clean_reason)
            award = self._core.new_award(actor, badge, user_id, clean_reason)
            added = await tx.uow.awards.add(award)
            if gift and not members_badge and added:
                await self._give(tx, actor, badge, policy, user_id, clean_reason)
            if not added:
                if members_badge:  # one more giver
                    tx.record(
                        self._core.event(
                            actor, EventKind.GIFTED, badge, user_id=user_id, reason=clean_reason
                        )
                    )
                    summary = await tx.uow.gifts.summary(guild_id, user_id, [badge.id])
                    held = summary[badge.id]
                    return MemberBadge(
                        badge=badge,
                        award=award,
                        gifts=held.count,
                        latest_giver=actor.display_name,
                        latest_reason=clean_reason,
                    )
                raise AlreadyAwarded(f"User already has this badge ('{clip(badge.name)}').")
            count = await tx.uow.badges.adjust_count(badge.id, 1)
            await tx.queue_role(badge, RoleAction.ADD, [user_id], clean_reason)
            tx.record(
                self._core.event(
                    actor, EventKind.AWARDED, badge, user_id=user_id, reason=clean_reason
                )
            )
        return MemberBadge(
            badge=replace(badge, awarded_count=count),
            award=award,
            gifts=1 if members_badge else 0,
            latest_giver=actor.display_name if gift else None,
            latest_reason=clean_reason if gift else None,
        )

    async def _give(
        self,
        tx: Tx,
        actor: Actor,
        badge: Badge,
        policy: AwardPolicy,
        user_id: int,
        reason: str | None,
    ) -> None:
        """Record the gift, within the giver's daily allowance; the badge's row is locked, so
        two gifts at once by one giver are counted one after the other."""
        now = self._core.clock()
        if policy.per_day is not None and actor.level < Level.MODERATOR:
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            if await tx.uow.gifts.given_since(badge.id, actor.user_id, midnight) >= policy.per_day:
                raise QuotaReached(
                    f"You can give '{clip(badge.name)}' {policy.per_day} "
                    f"time{'s' if policy.per_day != 1 else ''} a day: try again after "
                    "midnight UTC."
                )
        gift = Gift(
            badge.guild_id, badge.id, actor.user_id, actor.display_name, user_id, reason, now
        )
        if not await tx.uow.gifts.add(gift):
            raise AlreadyGiven(f"You already gave '{clip(badge.name)}' to this member.")

    async def _eligible(self, guild_id: int, user_ids: list[int]) -> list[int]:
        """Those of ``user_ids`` who are members and not bots, where this process can tell."""
        members = await self._members(guild_id, user_ids)
        if members is None:
            return user_ids
        return [uid for uid in user_ids if uid in members and not members[uid].is_bot]

    async def grant_automatic(
        self, guild_id: int, badge_id: str, user_ids: Collection[int], reason: str
    ) -> list[int]:
        """Award the badge from its rules (by the bot, with the rules as the reason), to
        those of ``user_ids`` who do not hold it; returns who received it."""
        awarded: list[int] = []
        ids = sorted(user_ids)
        for start in range(0, len(ids), BULK_MAX):
            # asked before the transaction: Discord's answer may take a while (rate limits),
            # and no lock may be held meanwhile
            chunk = await self._eligible(guild_id, ids[start : start + BULK_MAX])
            if not chunk:
                continue
            async with self._core.write() as tx:
                badge = await tx.badge(guild_id, badge_id)
                if not badge.is_active:
                    return awarded
                if await self._roles.power_of(badge):
                    raise Forbidden(POWER_NOT_AUTOMATIC, required=Level.ADMIN)
                awards = [self._core.new_award(AUTOMATIC, badge, uid, reason) for uid in chunk]
                inserted = await tx.uow.awards.add_many(awards)
                done = [uid for uid in chunk if uid in inserted]
                if done:
                    await tx.uow.badges.adjust_count(badge.id, len(done))
                    await tx.queue_role(badge, RoleAction.ADD, done, reason)
                    tx.record_all(
                        self._core.event(
                            AUTOMATIC, EventKind.AWARDED, badge, user_id=uid, reason=reason
                        )
                        for uid in done
                    )
                awarded.extend(done)
        return awarded

    async def withdraw_automatic(
        self,
        guild_id: int,
        badge_id: str,
        user_ids: Collection[int],
        reason: str,
        *,
        only_automatic: bool = True,
    ) -> list[int]:
        """Take the badge back from those of ``user_ids`` who hold it (auto-revoke, or a
        higher badge of a chain replacing it); returns who lost it."""
        revoked: list[int] = []
        ids = sorted(user_ids)
        for start in range(0, len(ids), BULK_MAX):
            async with self._core.write() as tx:
                badge = await tx.badge(guild_id, badge_id)
                chunk = ids[start : start + BULK_MAX]
                removed = sorted(
                    await tx.uow.awards.remove_many(
                        guild_id,
                        badge.id,
                        chunk,
                        awarded_by_id=AUTOMATIC_ID if only_automatic else None,
                    )
                )
                if removed:
                    await tx.uow.gifts.remove_of(badge.id, removed)
                    await tx.uow.badges.adjust_count(badge.id, -len(removed))
                    await tx.queue_role(badge, RoleAction.REMOVE, removed, reason)
                    tx.record_all(
                        self._core.event(
                            AUTOMATIC, EventKind.REVOKED, badge, user_id=uid, reason=reason
                        )
                        for uid in removed
                    )
                revoked.extend(removed)
        return revoked

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
            await tx.uow.gifts.remove_of(badge.id, [user_id])
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
            items = await _with_gifts(uow, guild_id, user_id, rows[:limit])
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


async def _with_gifts(
    uow: UnitOfWork, guild_id: int, user_id: int, items: Sequence[MemberBadge]
) -> list[MemberBadge]:
    """The member's badges with who gave them (badges members give each other)."""
    gifts = await uow.gifts.summary(guild_id, user_id, [i.badge.id for i in items])
    if not gifts:
        return list(items)
    out = []
    for item in items:
        held = gifts.get(item.badge.id)
        if held is not None:
            item = replace(
                item,
                gifts=held.count,
                latest_giver=held.latest.giver_name,
                latest_reason=held.latest.reason,
            )
        out.append(item)
    return out
