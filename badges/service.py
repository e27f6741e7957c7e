"""The BadgeService: every adapter (slash commands, REST API, automatic rules) calls it.

Each operation is one unit of work, checks the actor's level itself, validates its input
before touching storage, and records what it did in the audit trail in the same transaction.
After a commit, the recorded events go to subscribers (log channel, caches, role sync).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Final

from badges import validation
from badges.errors import (
    AlreadyAwarded,
    BadgeInactive,
    BadgeNotFound,
    InvalidInput,
    NameTaken,
    NotAwarded,
    RoleConflict,
    RoleTaken,
    SlugTaken,
)
from badges.model import (
    AuditEvent,
    Award,
    Badge,
    BulkAwardResult,
    DeletedBadge,
    EventKind,
    Gate,
    GuildSettings,
    MemberBadge,
    NewEvent,
    NewRoleChange,
    Overwrite,
    Page,
    RoleAction,
    RoleChange,
    RoleDrift,
)
from badges.permissions import Actor, Level, Operation, authorize
from badges.ports import UnitOfWork, UnitOfWorkFactory
from badges.role_sync import RoleDiff, plan

log = logging.getLogger(__name__)

MAX_PAGE = 100
MAX_BADGE_PAGE = 1000
"""Badges per guild are few (hundreds), so one page may hold them all."""
DISCORD = Actor(0, "Discord", Level.SUPER_ADMIN)
"""The actor of changes that come from Discord itself (a role edited by hand, deleted)."""
BULK_MAX = 10_000
_EDITABLE = ("name", "slug", "description", "icon", "color", "is_active", "role_id")


class _Unset(Enum):
    UNSET = "UNSET"


UNSET: Final = _Unset.UNSET
"""Marks a field an update leaves as it is (None clears a field)."""

Listener = Callable[[Sequence[NewEvent]], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _page_bounds(offset: int, limit: int, most: int = MAX_PAGE) -> tuple[int, int]:
    if offset < 0:
        raise InvalidInput("offset", "The offset cannot be negative.")
    if not 1 <= limit <= most:
        raise InvalidInput("limit", f"The page size must be between 1 and {most}.")
    return offset, limit


class BadgeService:
    """Badges, awards and guild settings, with permissions enforced here."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._new_id = new_id
        self._listeners: list[Listener] = []
        self._queue_watchers: list[Callable[[int], None]] = []

    # -- subscribers -------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with the events of every committed change."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    async def _publish(self, events: Sequence[NewEvent]) -> None:
        for listener in list(self._listeners):
            try:
                await listener(events)
            except Exception:  # a listener must never undo a committed change
                log.exception("badge event listener %r failed", listener)

    def watch_role_queue(self, watcher: Callable[[int], None]) -> None:
        """Call ``watcher`` with a guild id whenever a commit queued role changes there."""
        self._queue_watchers.append(watcher)

    async def _commit(
        self, uow: UnitOfWork, events: Sequence[NewEvent], *, queued_in: int | None = None
    ) -> None:
        """Record the events and commit; ``queued_in`` names the guild whose role queue the
        transaction added to, so the role sync picks it up at once."""
        await uow.audit.record(events)
        await uow.commit()
        if queued_in is None:
            return
        for watcher in list(self._queue_watchers):
            try:
                watcher(queued_in)
            except Exception:  # the change is committed; the sweep will find it anyway
                log.exception("role queue watcher %r failed", watcher)

    # -- badges: reads -----------------------------------------------------------------

    async def get_badge(self, guild_id: int, badge_id: str) -> Badge:
        async with self._uow(write=False) as uow:
            return await self._badge(uow, guild_id, badge_id)

    async def get_badge_by_slug(self, guild_id: int, slug: str) -> Badge:
        async with self._uow(write=False) as uow:
            badge = await uow.badges.get_by_slug(guild_id, slug.strip().lower())
        if badge is None:
            raise BadgeNotFound()
        return badge

    async def find_badge(self, guild_id: int, query: str) -> Badge:
        """A badge by slug, name (any case) or id, as typed in a command option."""
        text = " ".join(query.split())
        if not text:
            raise InvalidInput("badge", "Name the badge (its name or slug).")
        async with self._uow(write=False) as uow:
            badge = (
                await uow.badges.get_by_slug(guild_id, text.lower())
                or await uow.badges.get_by_name(guild_id, validation.name_key(text))
                or await uow.badges.get(guild_id, text)
            )
            if badge is not None:
                return badge
            names = await uow.badges.names(guild_id)
        suggestion = _closest(text, names)
        message = f"No badge named '{text}' in this server."
        if suggestion:
            message += f" Did you mean '{suggestion}'?"
        raise BadgeNotFound(message, suggestion=suggestion)

    async def badge_names(self, guild_id: int) -> list[tuple[str, str]]:
        """(name, slug) of every badge of the guild, sorted by name."""
        async with self._uow(write=False) as uow:
            return sorted(await uow.badges.names(guild_id), key=lambda p: p[0].casefold())

    async def list_badges(
        self, guild_id: int, *, active: bool | None = None, offset: int = 0, limit: int = 25
    ) -> Page[Badge]:
        offset, limit = _page_bounds(offset, limit, MAX_BADGE_PAGE)
        async with self._uow(write=False) as uow:
            return await uow.badges.page(guild_id, active=active, offset=offset, limit=limit)

    async def list_holders(
        self, guild_id: int, badge_id: str, *, offset: int = 0, limit: int = 25
    ) -> Page[Award]:
        """Members holding the badge, newest award first."""
        offset, limit = _page_bounds(offset, limit)
        async with self._uow(write=False) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            items = await uow.awards.holders(guild_id, badge.id, offset=offset, limit=limit)
        return Page(items=items, total=badge.awarded_count, offset=offset, limit=limit)

    async def list_member_badges(
        self, guild_id: int, user_id: int, *, offset: int = 0, limit: int = 25
    ) -> Page[MemberBadge]:
        offset, limit = _page_bounds(offset, limit)
        async with self._uow(write=False) as uow:
            return await uow.awards.of_member(guild_id, user_id, offset=offset, limit=limit)

    async def member_history(
        self, actor: Actor, guild_id: int, user_id: int, *, offset: int = 0, limit: int = 25
    ) -> Page[AuditEvent]:
        """Awards and revocations of a member, newest first. Members may read their own;
        reading someone else's needs the Moderator level."""
        if actor.user_id != user_id:
            authorize(actor, Operation.READ_OTHERS_HISTORY)
        offset, limit = _page_bounds(offset, limit)
        async with self._uow(write=False) as uow:
            return await uow.audit.member_history(guild_id, user_id, offset=offset, limit=limit)

    # -- badges: changes ---------------------------------------------------------------

    async def create_badge(
        self,
        actor: Actor,
        guild_id: int,
        *,
        name: str,
        slug: str | None = None,
        description: str | None = None,
        icon: str | None = None,
        color: str | None = None,
        is_active: bool = True,
        role_id: int | None = None,
        role_managed: bool = False,
    ) -> Badge:
        """Define a badge; ``role_id`` links a role (``role_managed``: the bot made it)."""
        authorize(actor, Operation.CREATE_BADGE)
        clean_name = validation.name(name)
        given_slug = validation.slug(slug) if slug is not None and slug.strip() else None
        clean_description = validation.description(description)
        clean_icon = validation.icon(icon)
        clean_color = validation.color(color)
        if role_id is not None:
            validation.snowflake("role", role_id)
        now = self._clock()
        async with self._uow(write=True) as uow:
            if await uow.badges.get_by_name(guild_id, validation.name_key(clean_name)):
                raise NameTaken(clean_name)
            if given_slug is not None:
                if await uow.badges.get_by_slug(guild_id, given_slug):
                    raise SlugTaken(given_slug)
                final_slug = given_slug
            else:
                final_slug = await self._free_slug(uow, guild_id, clean_name)
            if role_id is not None and (other := await uow.badges.by_role(guild_id, role_id)):
                raise RoleTaken(other.name)
            badge = Badge(
                id=self._new_id(),
                guild_id=guild_id,
                name=clean_name,
                slug=final_slug,
                description=clean_description,
                icon=clean_icon,
                color=clean_color,
                is_active=is_active,
                role_id=role_id,
                awarded_count=0,
                created_at=now,
                updated_at=now,
                created_by=actor.user_id,
                role_managed=role_managed and role_id is not None,
            )
            await uow.badges.add(badge)
            event = self._event(actor, EventKind.BADGE_CREATED, badge, after=_fields(badge))
            await self._commit(uow, [event])
        await self._publish([event])
        return badge

    async def update_badge(
        self,
        actor: Actor,
        guild_id: int,
        badge_id: str,
        *,
        name: str | _Unset = UNSET,
        slug: str | _Unset = UNSET,
        description: str | _Unset | None = UNSET,
        icon: str | _Unset | None = UNSET,
        color: str | _Unset | None = UNSET,
        is_active: bool | _Unset = UNSET,
        role_id: int | _Unset | None = UNSET,
    ) -> Badge:
        """Change any subset of fields. Renaming keeps the slug unless a slug is given."""
        authorize(actor, Operation.EDIT_BADGE)
        changes: dict[str, Any] = {}
        if not isinstance(name, _Unset):
            changes["name"] = validation.name(name)
        if not isinstance(slug, _Unset):
            changes["slug"] = validation.slug(slug)
        if not isinstance(description, _Unset):
            changes["description"] = validation.description(description)
        if not isinstance(icon, _Unset):
            changes["icon"] = validation.icon(icon)
        if not isinstance(color, _Unset):
            changes["color"] = validation.color(color)
        if not isinstance(is_active, _Unset):
            changes["is_active"] = bool(is_active)
        if not isinstance(role_id, _Unset):
            changes["role_id"] = None if role_id is None else validation.snowflake("role", role_id)
        async with self._uow(write=True) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            changes = {k: v for k, v in changes.items() if getattr(badge, k) != v}
            if not changes:
                return badge
            if "name" in changes:
                other = await uow.badges.get_by_name(guild_id, validation.name_key(changes["name"]))
                if other is not None and other.id != badge.id:
                    raise NameTaken(changes["name"])
            if "slug" in changes:
                other = await uow.badges.get_by_slug(guild_id, changes["slug"])
                if other is not None and other.id != badge.id:
                    raise SlugTaken(changes["slug"])
            updated = _replace(badge, **changes, updated_at=self._clock())
            await uow.badges.save(updated)
            before = {k: _plain(getattr(badge, k)) for k in changes}
            after = {k: _plain(v) for k, v in changes.items()}
            event = self._event(actor, EventKind.BADGE_UPDATED, updated, before=before, after=after)
            await self._commit(uow, [event])
        await self._publish([event])
        return updated

    async def delete_badge(
        self, actor: Actor, guild_id: int, badge_id: str, *, reason: str | None = None
    ) -> DeletedBadge:
        """Delete a badge. Its awards end and stay in each holder's history."""
        authorize(actor, Operation.DELETE_BADGE)
        clean_reason = validation.reason(reason)
        async with self._uow(write=True) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            await self._refuse_while_gating(uow, badge, "delete it")
            ended = clean_reason or f"Badge '{badge.name}' was deleted"
            if badge.role_id is not None and badge.role_managed:
                # the bot made this role for the badge: deleting it takes it from everyone
                await uow.role_queue.enqueue(
                    [
                        NewRoleChange(
                            guild_id,
                            badge.role_id,
                            RoleAction.DELETE_ROLE,
                            badge_id=badge.id,
                            reason=ended,
                        )
                    ],
                    self._clock(),
                )
            elif badge.role_id is not None:
                await uow.role_queue.enqueue_for_holders(
                    guild_id, badge.id, badge.role_id, RoleAction.REMOVE, ended, self._clock()
                )
            holders = await uow.awards.remove_all(guild_id, badge.id)
            events = [
                self._event(actor, EventKind.REVOKED, badge, user_id=uid, reason=ended)
                for uid in holders
            ]
            events.append(
                self._event(
                    actor,
                    EventKind.BADGE_DELETED,
                    badge,
                    reason=clean_reason,
                    before=_fields(badge),
                )
            )
            await uow.badges.delete(guild_id, badge.id)
            await self._commit(uow, events, queued_in=guild_id if badge.role_id else None)
        await self._publish(events)
        return DeletedBadge(badge=badge, holder_ids=holders, role_id=badge.role_id)

    # -- awards --------------------------------------------------------------------------

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
        async with self._uow(write=True) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            if not badge.is_active:
                raise BadgeInactive(f"Cannot award inactive badge '{badge.name}'.")
            award = self._new_award(actor, badge, user_id, clean_reason)
            if not await uow.awards.add(award):
                raise AlreadyAwarded(f"User already has this badge ('{badge.name}').")
            count = await uow.badges.adjust_count(badge.id, 1)
            await self._queue_role(uow, badge, RoleAction.ADD, [user_id], clean_reason)
            event = self._event(
                actor, EventKind.AWARDED, badge, user_id=user_id, reason=clean_reason
            )
            await self._commit(uow, [event], queued_in=guild_id if badge.role_id else None)
        await self._publish([event])
        return MemberBadge(badge=_replace(badge, awarded_count=count), award=award)

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
        async with self._uow(write=True) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            award = await uow.awards.remove(guild_id, badge.id, user_id)
            if award is None:
                raise NotAwarded(f"User does not have this badge ('{badge.name}').")
            count = await uow.badges.adjust_count(badge.id, -1)
            await self._queue_role(uow, badge, RoleAction.REMOVE, [user_id], clean_reason)
            event = self._event(
                actor, EventKind.REVOKED, badge, user_id=user_id, reason=clean_reason
            )
            await self._commit(uow, [event], queued_in=guild_id if badge.role_id else None)
        await self._publish([event])
        return MemberBadge(badge=_replace(badge, awarded_count=count), award=award)

    async def bulk_award(
        self,
        actor: Actor,
        guild_id: int,
        badge_id: str,
        user_ids: Iterable[int],
        *,
        reason: str | None = None,
        refused: dict[int, str] | None = None,
    ) -> BulkAwardResult:
        """Award one badge to many members in one transaction.

        ``refused`` carries members the caller already turned away (bots, say) so they are
        reported with the rest. Invalid ids are refused here; duplicates count once.
        """
        authorize(actor, Operation.AWARD)
        clean_reason = validation.reason(reason)
        refusals = dict(refused or {})
        wanted: list[int] = []
        seen: set[int] = set(refusals)
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
        async with self._uow(write=True) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            if not badge.is_active:
                raise BadgeInactive(f"Cannot award inactive badge '{badge.name}'.")
            awards = [self._new_award(actor, badge, uid, clean_reason) for uid in wanted]
            inserted = await uow.awards.add_many(awards)
            awarded = [uid for uid in wanted if uid in inserted]
            already = [uid for uid in wanted if uid not in inserted]
            events = [
                self._event(actor, EventKind.AWARDED, badge, user_id=uid, reason=clean_reason)
                for uid in awarded
            ]
            count = badge.awarded_count
            if awarded:
                count = await uow.badges.adjust_count(badge.id, len(awarded))
                await self._queue_role(uow, badge, RoleAction.ADD, awarded, clean_reason)
                await self._commit(uow, events, queued_in=guild_id if badge.role_id else None)
        if events:
            await self._publish(events)
        return BulkAwardResult(
            badge=_replace(badge, awarded_count=count),
            awarded=awarded,
            already_held=already,
            refused=refusals,
        )

    # -- guild settings ------------------------------------------------------------------

    async def get_settings(self, guild_id: int) -> GuildSettings:
        async with self._uow(write=False) as uow:
            return await uow.settings.get(guild_id)

    async def set_role_level(
        self, actor: Actor, guild_id: int, role_id: int, level: Level
    ) -> GuildSettings:
        """Make holders of a Discord role Moderators or Admins of the badge system."""
        if level not in (Level.MODERATOR, Level.ADMIN):
            raise InvalidInput("level", "A role can grant the Moderator or the Admin level.")
        authorize(actor, Operation.CONFIGURE)
        if level is Level.ADMIN:
            authorize(actor, Operation.GRANT_ADMIN_ROLE)
        validation.snowflake("role", role_id)
        return await self._change_settings(
            actor,
            guild_id,
            {"role_id": role_id, "level": level.name},
            lambda uow: uow.settings.set_role_level(guild_id, role_id, level),
            guard_role=role_id,
        )

    async def unset_role(self, actor: Actor, guild_id: int, role_id: int) -> GuildSettings:
        authorize(actor, Operation.CONFIGURE)
        return await self._change_settings(
            actor,
            guild_id,
            {"role_id": role_id, "level": None},
            lambda uow: uow.settings.set_role_level(guild_id, role_id, None),
            guard_role=role_id,
        )

    async def set_log_channel(
        self, actor: Actor, guild_id: int, channel_id: int | None
    ) -> GuildSettings:
        authorize(actor, Operation.CONFIGURE)
        if channel_id is not None:
            validation.snowflake("channel", channel_id)
        return await self._change_settings(
            actor,
            guild_id,
            {"log_channel_id": channel_id},
            lambda uow: uow.settings.set_log_channel(guild_id, channel_id),
        )

    async def _change_settings(
        self,
        actor: Actor,
        guild_id: int,
        after: dict[str, Any],
        change: Callable[[UnitOfWork], Awaitable[None]],
        guard_role: int | None = None,
    ) -> GuildSettings:
        async with self._uow(write=True) as uow:
            before = await uow.settings.get(guild_id)
            if guard_role is not None and guard_role in before.admin_role_ids:
                authorize(actor, Operation.CHANGE_ADMIN_ROLE)
            await change(uow)
            settings = await uow.settings.get(guild_id)
            event = NewEvent(
                guild_id=guild_id,
                kind=EventKind.CONFIG_CHANGED,
                actor_id=actor.user_id,
                actor_name=actor.display_name,
                at=self._clock(),
                after=after,
            )
            await self._commit(uow, [event])
        await self._publish([event])
        return settings

    # -- role links, gates and the role-sync queue -----------------------------------------

    async def link_role(
        self, actor: Actor, guild_id: int, badge_id: str, role_id: int, *, created: bool = False
    ) -> tuple[Badge, int]:
        """Link a Discord role to a badge; its holders get the role. ``created`` marks a role
        the bot made for the badge (deleted with it). Returns the badge and how many role
        changes were queued."""
        authorize(actor, Operation.EDIT_BADGE)
        validation.snowflake("role", role_id)
        async with self._uow(write=True) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            if badge.role_id == role_id:
                return badge, 0
            if badge.role_id is not None:
                raise RoleConflict(
                    f"'{badge.name}' is already linked to <@&{badge.role_id}>: "
                    "unlink it first with /badge unlink-role."
                )
            other = await uow.badges.by_role(guild_id, role_id)
            if other is not None:
                raise RoleTaken(other.name)
            linked = _replace(
                badge, role_id=role_id, role_managed=created, updated_at=self._clock()
            )
            await uow.badges.save(linked)
            queued = await uow.role_queue.enqueue_for_holders(
                guild_id,
                badge.id,
                role_id,
                RoleAction.ADD,
                f"holds badge {badge.name}",
                self._clock(),
            )
            event = self._event(actor, EventKind.ROLE_LINKED, linked, after={"role_id": role_id})
            await self._commit(uow, [event], queued_in=guild_id if queued else None)
        await self._publish([event])
        return linked, queued

    async def unlink_role(
        self, actor: Actor, guild_id: int, badge_id: str, *, remove_from_holders: bool
    ) -> tuple[Badge, int]:
        """Unlink a badge's role, removing it from the holders or leaving it with them.
        Returns the badge as it was (with its role) and how many removals were queued."""
        authorize(actor, Operation.EDIT_BADGE)
        async with self._uow(write=True) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            if badge.role_id is None:
                raise RoleConflict(f"'{badge.name}' has no linked role.")
            await self._refuse_while_gating(uow, badge, "unlink the role")
            queued = 0
            if remove_from_holders:
                queued = await uow.role_queue.enqueue_for_holders(
                    guild_id,
                    badge.id,
                    badge.role_id,
                    RoleAction.REMOVE,
                    f"role unlinked from badge {badge.name}",
                    self._clock(),
                )
            await uow.badges.save(
                _replace(badge, role_id=None, role_managed=False, updated_at=self._clock())
            )
            event = self._event(
                actor,
                EventKind.ROLE_UNLINKED,
                badge,
                before={"role_id": badge.role_id},
                after={"removed_from_holders": remove_from_holders},
            )
            await self._commit(uow, [event], queued_in=guild_id if queued else None)
        await self._publish([event])
        return badge, queued

    async def role_deleted(self, guild_id: int, role_id: int) -> Badge | None:
        """A linked role was deleted in Discord: unlink its badge and forget its queue."""
        async with self._uow(write=True) as uow:
            badge = await uow.badges.by_role(guild_id, role_id)
            if badge is None:
                return None
            await uow.role_queue.cancel_role(guild_id, role_id)
            for gate in await uow.gates.of_badge(guild_id, badge.id):
                await uow.gates.remove(guild_id, badge.id, gate.channel_id)
            await uow.badges.save(
                _replace(badge, role_id=None, role_managed=False, updated_at=self._clock())
            )
            event = self._event(
                DISCORD,
                EventKind.ROLE_UNLINKED,
                badge,
                before={"role_id": role_id},
                reason="The role was deleted in Discord",
            )
            await self._commit(uow, [event])
        await self._publish([event])
        return badge

    async def add_gate(
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
        authorize(actor, Operation.EDIT_BADGE)
        validation.snowflake("channel", channel_id)
        async with self._uow(write=True) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            if badge.role_id is None:
                raise RoleConflict(
                    f"'{badge.name}' has no role to open channels with: "
                    "link one first with /badge link-role."
                )
            others = await uow.gates.of_channel(guild_id, channel_id)
            if any(g.badge_id == badge.id for g in others):
                raise RoleConflict(f"<#{channel_id}> is already gated by '{badge.name}'.")
            if others:  # @everyone was already hidden by the first gate: keep what it replaced
                everyone_before = others[0].everyone_before
            gate = Gate(guild_id, badge.id, channel_id, badge.role_id, everyone_before, role_before)
            await uow.gates.add(gate)
            event = self._event(actor, EventKind.GATE_CHANGED, badge, after={"gated": channel_id})
            await self._commit(uow, [event])
        await self._publish([event])
        return gate

    async def remove_gate(
        self, actor: Actor, guild_id: int, badge_id: str, channel_id: int
    ) -> tuple[Gate, list[Gate]]:
        """Forget a gate; returns it and the gates that remain on the same channel."""
        authorize(actor, Operation.EDIT_BADGE)
        async with self._uow(write=True) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            gate = await uow.gates.remove(guild_id, badge.id, channel_id)
            if gate is None:
                raise RoleConflict(f"<#{channel_id}> is not gated by '{badge.name}'.")
            remaining = await uow.gates.of_channel(guild_id, channel_id)
            event = self._event(actor, EventKind.GATE_CHANGED, badge, after={"ungated": channel_id})
            await self._commit(uow, [event])
        await self._publish([event])
        return gate, remaining

    async def gates(self, guild_id: int, badge_id: str | None = None) -> list[Gate]:
        """Gates of one badge, or of the whole guild."""
        async with self._uow(write=False) as uow:
            if badge_id is None:
                return await uow.gates.of_guild(guild_id)
            return await uow.gates.of_badge(guild_id, badge_id)

    async def linked_badges(self, guild_id: int) -> list[Badge]:
        async with self._uow(write=False) as uow:
            return await uow.badges.linked(guild_id)

    async def set_role_drift(self, actor: Actor, guild_id: int, drift: RoleDrift) -> GuildSettings:
        """Choose what a badge role given or removed by hand in Discord means."""
        authorize(actor, Operation.CONFIGURE)
        return await self._change_settings(
            actor,
            guild_id,
            {"role_drift": drift.value},
            lambda uow: uow.settings.set_role_drift(guild_id, drift),
        )

    async def reconcile_badge(
        self,
        actor: Actor,
        guild_id: int,
        badge_id: str,
        role_member_ids: set[int],
        *,
        dry_run: bool = False,
    ) -> RoleDiff:
        """Compare the badge's holders with the members Discord says have its role, and
        queue (or, in adopt mode, record) what brings them in line."""
        authorize(actor, Operation.AWARD)
        async with self._uow(write=not dry_run) as uow:
            badge = await self._badge(uow, guild_id, badge_id)
            if badge.role_id is None:
                raise RoleConflict(f"'{badge.name}' has no linked role to sync.")
            settings = await uow.settings.get(guild_id)
            holders = await uow.awards.holder_ids(guild_id, badge.id)
            adding, removing = await uow.role_queue.in_flight(guild_id, badge.role_id)
            diff = plan(
                holders, role_member_ids, settings.role_drift, adding=adding, removing=removing
            )
            if dry_run or diff.empty:
                return diff
            events = await self._apply_diff(uow, badge, diff)
            await self._commit(uow, events, queued_in=guild_id)
        await self._publish(events)
        return diff

    async def reconcile_member(
        self,
        guild_id: int,
        user_id: int,
        role_ids: set[int],
        *,
        joined: bool = False,
        settled: frozenset[int] = frozenset(),
    ) -> list[tuple[Badge, RoleDiff]]:
        """Bring one member's badge roles in line after a Discord event. A member who
        (re)joins gets the roles of their badges back, whatever the drift mode. ``settled``
        are roles the bot itself just changed for this member: their echo is not drift."""
        async with self._uow(write=False) as uow:  # most member events need nothing
            if not await self._member_plan(uow, guild_id, user_id, role_ids, joined, settled):
                return []
        async with self._uow(write=True) as uow:
            plans = await self._member_plan(uow, guild_id, user_id, role_ids, joined, settled)
            if not plans:
                return []
            events: list[NewEvent] = []
            for badge, diff in plans:
                events.extend(await self._apply_diff(uow, badge, diff))
            await self._commit(uow, events, queued_in=guild_id)
        await self._publish(events)
        return plans

    async def _member_plan(
        self,
        uow: UnitOfWork,
        guild_id: int,
        user_id: int,
        role_ids: set[int],
        joined: bool,
        settled: frozenset[int],
    ) -> list[tuple[Badge, RoleDiff]]:
        linked = [b for b in await uow.badges.linked(guild_id) if b.role_id not in settled]
        if not linked:
            return []
        drift = RoleDrift.REVERT if joined else (await uow.settings.get(guild_id)).role_drift
        held = await uow.awards.badge_ids_of(guild_id, user_id)
        plans: list[tuple[Badge, RoleDiff]] = []
        for badge in linked:
            assert badge.role_id is not None
            adding, removing = await uow.role_queue.in_flight(guild_id, badge.role_id, user_id)
            diff = plan(
                {user_id} if badge.id in held else set(),
                {user_id} if badge.role_id in role_ids else set(),
                drift,
                adding=adding,
                removing=removing,
            )
            if joined:
                diff = RoleDiff(grant=diff.grant)
            if not diff.empty:
                plans.append((badge, diff))
        return plans

    async def _apply_diff(self, uow: UnitOfWork, badge: Badge, diff: RoleDiff) -> list[NewEvent]:
        """Queue the role changes of a diff and record its adopted awards and revocations."""
        events: list[NewEvent] = []
        why = f"badge {badge.name}"
        await self._queue_role(uow, badge, RoleAction.ADD, sorted(diff.grant), why)
        await self._queue_role(uow, badge, RoleAction.REMOVE, sorted(diff.remove), why)
        if diff.award:
            awards = [self._new_award(DISCORD, badge, uid, None) for uid in sorted(diff.award)]
            added = await uow.awards.add_many(awards)
            await uow.badges.adjust_count(badge.id, len(added))
            events += [
                self._event(DISCORD, EventKind.AWARDED, badge, user_id=uid) for uid in sorted(added)
            ]
        for uid in sorted(diff.revoke):
            if await uow.awards.remove(badge.guild_id, badge.id, uid) is not None:
                await uow.badges.adjust_count(badge.id, -1)
                events.append(
                    self._event(
                        DISCORD,
                        EventKind.REVOKED,
                        badge,
                        user_id=uid,
                        reason="The badge role was removed in Discord",
                    )
                )
        return events

    async def role_changes_due(self, guild_id: int, *, limit: int = 50) -> list[RoleChange]:
        """The next role changes the sync worker should apply in this guild."""
        async with self._uow(write=False) as uow:
            return await uow.role_queue.due(guild_id, self._clock(), limit)

    async def guilds_with_due_role_changes(self) -> list[int]:
        async with self._uow(write=False) as uow:
            return await uow.role_queue.guilds_due(self._clock())

    async def role_change_applied(self, change_id: int) -> None:
        async with self._uow(write=True) as uow:
            await uow.role_queue.applied(change_id)
            await uow.commit()

    async def role_change_retry(self, change_id: int, error: str, delay: float) -> None:
        """A temporary failure (rate limit, Discord error): try again after ``delay`` s."""
        when = self._clock() + timedelta(seconds=delay)
        async with self._uow(write=True) as uow:
            await uow.role_queue.retry_at(change_id, error[:1000], when)
            await uow.commit()

    async def role_changes_failed(self, changes: Sequence[RoleChange], error: str) -> None:
        """Permanent failures: kept with their reason for admins, never retried in a loop."""
        if not changes:
            return
        events = [
            NewEvent(
                guild_id=change.guild_id,
                kind=EventKind.ROLE_SYNC_FAILED,
                actor_id=DISCORD.user_id,
                actor_name=DISCORD.display_name,
                at=self._clock(),
                badge_id=change.badge_id,
                user_id=change.user_id,
                reason=error[:500],
                after={"role_id": change.role_id, "action": change.action.value},
            )
            for change in changes
        ]
        async with self._uow(write=True) as uow:
            for change in changes:
                await uow.role_queue.failed(change.id, error[:1000])
            await self._commit(uow, events)
        await self._publish(events)

    async def role_blocked(self, guild_id: int, role_id: int, error: str) -> int:
        """Discord will refuse every change of this role until an admin fixes the cause: fail
        them all at once (one log entry, no requests that count against the bot)."""
        async with self._uow(write=True) as uow:
            failed = await uow.role_queue.fail_role(guild_id, role_id, error[:1000])
            if not failed:
                return 0
            event = NewEvent(
                guild_id=guild_id,
                kind=EventKind.ROLE_SYNC_FAILED,
                actor_id=DISCORD.user_id,
                actor_name=DISCORD.display_name,
                at=self._clock(),
                reason=error[:500],
                after={"role_id": role_id, "changes": failed},
            )
            await self._commit(uow, [event])
        await self._publish([event])
        return failed

    async def retry_failed_role_changes(self, actor: Actor, guild_id: int) -> int:
        """Queue the guild's failed role changes again (after the cause was fixed)."""
        authorize(actor, Operation.AWARD)
        async with self._uow(write=True) as uow:
            retried = await uow.role_queue.retry_failed(guild_id, self._clock())
            await self._commit(uow, [], queued_in=guild_id if retried else None)
        return retried

    async def role_sync_status(
        self, guild_id: int, *, failures: int = 10
    ) -> tuple[int, int, list[RoleChange]]:
        """(pending, failed, the latest failures) of the guild's role sync."""
        async with self._uow(write=False) as uow:
            pending, failed = await uow.role_queue.counts(guild_id)
            latest = await uow.role_queue.failures(guild_id, failures)
        return pending, failed, latest

    async def pending_role_changes(self, guild_id: int, badge_id: str) -> int:
        async with self._uow(write=False) as uow:
            return await uow.role_queue.pending_for_badge(guild_id, badge_id)

    async def drop_role_changes(self, guild_id: int) -> int:
        """Forget every queued change of a guild the bot was removed from."""
        async with self._uow(write=True) as uow:
            dropped = await uow.role_queue.drop_guild(guild_id)
            await uow.commit()
        return dropped

    async def clear_role_failures(self, actor: Actor, guild_id: int) -> int:
        authorize(actor, Operation.CONFIGURE)
        async with self._uow(write=True) as uow:
            cleared = await uow.role_queue.clear_failures(guild_id)
            await uow.commit()
        return cleared

    async def _refuse_while_gating(self, uow: UnitOfWork, badge: Badge, then: str) -> None:
        """Gated channels would stay hidden from everyone: they must be ungated first."""
        gates = await uow.gates.of_badge(badge.guild_id, badge.id)
        if gates:
            channels = ", ".join(f"<#{g.channel_id}>" for g in gates)
            raise RoleConflict(
                f"'{badge.name}' opens {channels}: remove those gates first "
                f"with /badge ungate, then {then}."
            )

    async def _queue_role(
        self,
        uow: UnitOfWork,
        badge: Badge,
        action: RoleAction,
        user_ids: Sequence[int],
        reason: str | None,
    ) -> None:
        if badge.role_id is None or not user_ids:
            return
        changes = [
            NewRoleChange(badge.guild_id, badge.role_id, action, uid, badge.id, reason)
            for uid in user_ids
        ]
        await uow.role_queue.enqueue(changes, self._clock())

    # -- helpers -------------------------------------------------------------------------

    async def _badge(self, uow: UnitOfWork, guild_id: int, badge_id: str) -> Badge:
        badge = await uow.badges.get(guild_id, badge_id)
        if badge is None:
            raise BadgeNotFound()
        return badge

    async def _free_slug(self, uow: UnitOfWork, guild_id: int, name: str) -> str:
        base = validation.slug_from_name(name)
        taken = await uow.badges.slugs_like(guild_id, base)
        if base not in taken:
            return base
        n = 2
        while validation.with_suffix(base, n) in taken:
            n += 1
        return validation.with_suffix(base, n)

    def _new_award(self, actor: Actor, badge: Badge, user_id: int, reason: str | None) -> Award:
        return Award(
            id=self._new_id(),
            guild_id=badge.guild_id,
            badge_id=badge.id,
            user_id=user_id,
            awarded_by_id=actor.user_id,
            awarded_by_name=actor.display_name,
            reason=reason,
            awarded_at=self._clock(),
        )

    def _event(
        self,
        actor: Actor,
        kind: EventKind,
        badge: Badge,
        *,
        user_id: int | None = None,
        reason: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> NewEvent:
        return NewEvent(
            guild_id=badge.guild_id,
            kind=kind,
            actor_id=actor.user_id,
            actor_name=actor.display_name,
            at=self._clock(),
            badge_id=badge.id,
            badge_name=badge.name,
            user_id=user_id,
            reason=reason,
            before=before,
            after=after,
        )


def _replace(badge: Badge, **changes: Any) -> Badge:
    return dataclasses.replace(badge, **changes)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _fields(badge: Badge) -> dict[str, Any]:
    return {k: _plain(getattr(badge, k)) for k in _EDITABLE}


def _closest(text: str, names: Sequence[tuple[str, str]]) -> str | None:
    """The badge name closest to what was typed, if any is close enough."""
    by_key = {validation.name_key(n): n for n, _ in names}
    by_key.update({s: n for n, s in names})
    match = difflib.get_close_matches(validation.name_key(text), list(by_key), n=1, cutoff=0.6)
    return by_key[match[0]] if match else None


__all__ = ["DISCORD", "UNSET", "BadgeService", "Listener"]
