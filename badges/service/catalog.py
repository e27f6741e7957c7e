"""The catalogue: defining, editing, deleting and finding badges."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Any, Final

from badges import validation
from badges.errors import (
    BadgeNotFound,
    InvalidInput,
    NameTaken,
    PreconditionFailed,
    RequiredByRules,
    SlugTaken,
    clip,
)
from badges.model import Badge, DeletedBadge, EventKind, Page, RoleAction, Slice
from badges.permissions import Actor, Operation, authorize
from badges.ports import UnitOfWork
from badges.service.core import (
    ServiceCore,
    Tx,
    badge_names,
    keyset,
    page_bounds,
    plain,
    walk_bounds,
)
from badges.service.role_links import RoleLinks

MAX_BADGE_PAGE = 1000
"""Badges per guild are few (hundreds), so one page may hold them all."""
FIND_MAX = 200
"""Longer than any name, slug or id: what is typed beyond it cannot name a badge."""
_EDITABLE = ("name", "slug", "description", "icon", "color", "is_active", "role_id")


class _Unset(Enum):
    UNSET = "UNSET"


UNSET: Final = _Unset.UNSET
"""Marks a field an update leaves as it is (None clears a field)."""


def fields(badge: Badge) -> dict[str, Any]:
    return {k: plain(getattr(badge, k)) for k in _EDITABLE}


class Catalog:
    def __init__(self, core: ServiceCore, roles: RoleLinks) -> None:
        self._core = core
        self._roles = roles

    # -- reads -----------------------------------------------------------------------------

    async def get(self, guild_id: int, badge_id: str) -> Badge:
        async with self._core.read() as uow:
            badge = await uow.badges.get(guild_id, badge_id)
        if badge is None:
            raise BadgeNotFound()
        return badge

    async def get_by_slug(self, guild_id: int, slug: str) -> Badge:
        async with self._core.read() as uow:
            badge = await uow.badges.get_by_slug(guild_id, slug.strip().lower())
        if badge is None:
            raise BadgeNotFound()
        return badge

    async def find(self, guild_id: int, query: str) -> Badge:
        """A badge by slug, name (any case, look-alikes included) or id, as typed."""
        text = _typed(query)
        async with self._core.read() as uow:
            badge = (
                await uow.badges.get_by_slug(guild_id, text.lower())
                or await uow.badges.get_by_name(guild_id, validation.name_key(text))
                or await uow.badges.get(guild_id, text)
            )
            if badge is not None:
                return badge
            names = await uow.badges.names(guild_id)
        raise _not_found(text, names)

    async def index(self, guild_id: int) -> BadgeIndex:
        """Every badge of the guild, to find them in memory (``BadgeIndex.find``)."""
        badges: list[Badge] = []
        async with self._core.read() as uow:
            while True:
                page = await uow.badges.page(
                    guild_id, active=None, offset=len(badges), limit=MAX_BADGE_PAGE
                )
                badges.extend(page.items)
                if len(page.items) < MAX_BADGE_PAGE or len(badges) >= page.total:
                    break
        return BadgeIndex(badges)

    async def names(self, guild_id: int) -> list[tuple[str, str]]:
        """(name, slug) of every badge of the guild, sorted by name."""
        async with self._core.read() as uow:
            return sorted(await uow.badges.names(guild_id), key=lambda p: p[0].casefold())

    async def list(
        self, guild_id: int, *, active: bool | None = None, offset: int = 0, limit: int = 25
    ) -> Page[Badge]:
        offset, limit = page_bounds(offset, limit, MAX_BADGE_PAGE)
        async with self._core.read() as uow:
            return await uow.badges.page(guild_id, active=active, offset=offset, limit=limit)

    async def list_after(
        self,
        guild_id: int,
        *,
        active: bool | None = None,
        key: tuple[Any, ...] | None = None,
        limit: int = 50,
    ) -> Slice[Badge]:
        """Badges in creation order, after ``key`` (from the previous slice)."""
        walk_bounds(limit)
        after = keyset(key, (datetime, str))
        async with self._core.read() as uow:
            rows = await uow.badges.after(guild_id, active=active, key=after, limit=limit + 1)
        items = rows[:limit]
        more = len(rows) > limit
        return Slice(items, (items[-1].created_at, items[-1].id) if more else None)

    # -- changes ---------------------------------------------------------------------------

    async def create(
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
        """Define a badge; ``role_id`` links a role (``role_managed``: the bot made it), with
        every rule of linking."""
        authorize(actor, Operation.CREATE_BADGE)
        clean_name = validation.name(name)
        given_slug = validation.slug(slug) if slug is not None and slug.strip() else None
        clean_description = validation.description(description)
        clean_icon = validation.icon(icon)
        clean_color = validation.color(color)
        if role_id is not None:
            authorize(actor, Operation.LINK_ROLE)
            validation.snowflake("role", role_id)
        now = self._core.clock()
        async with self._core.write() as tx:
            uow = tx.uow
            if await uow.badges.get_by_name(guild_id, validation.name_key(clean_name)):
                raise NameTaken(clean_name)
            if given_slug is not None:
                if await uow.badges.get_by_slug(guild_id, given_slug):
                    raise SlugTaken(given_slug)
                final_slug = given_slug
            else:
                final_slug = await _free_slug(uow, guild_id, clean_name)
            badge = Badge(
                id=self._core.new_id(),
                guild_id=guild_id,
                name=clean_name,
                slug=final_slug,
                description=clean_description,
                icon=clean_icon,
                color=clean_color,
                is_active=is_active,
                role_id=None,
                awarded_count=0,
                created_at=now,
                updated_at=now,
                created_by=actor.user_id,
            )
            await uow.badges.add(badge)
            if role_id is not None:  # a new badge has no holders: linking queues nothing
                badge, _ = await self._roles.relink(tx, actor, badge, role_id, created=role_managed)
            tx.record(self._core.event(actor, EventKind.BADGE_CREATED, badge, after=fields(badge)))
        return badge

    async def update(
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
        if_revision: Collection[str] | None = None,
    ) -> Badge:
        """Change any subset of fields. Renaming keeps the slug unless a slug is given. A new
        ``role_id`` goes through every rule of linking: holders get the new role and lose the
        old one; a badge that gates channels must be ungated first. With ``if_revision``, the
        badge must still be at one of those revisions (else PreconditionFailed)."""
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
            if role_id is not None:
                validation.snowflake("role", role_id)
            changes["role_id"] = role_id
        async with self._core.write() as tx:
            uow = tx.uow
            badge = await tx.badge(guild_id, badge_id)
            _expect(badge, if_revision)
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
            current = badge
            if "role_id" in changes:
                if changes["role_id"] is not None:
                    authorize(actor, Operation.LINK_ROLE)
                current, _ = await self._roles.relink(tx, actor, badge, changes["role_id"])
            fields_changed = {k: v for k, v in changes.items() if k != "role_id"}
            updated = replace(current, **fields_changed, updated_at=self._core.clock())
            await uow.badges.save(updated)
            before = {k: plain(getattr(badge, k)) for k in changes}
            after = {k: plain(v) for k, v in changes.items()}
            tx.record(
                self._core.event(
                    actor, EventKind.BADGE_UPDATED, updated, before=before, after=after
                )
            )
        return updated

    async def delete(
        self,
        actor: Actor,
        guild_id: int,
        badge_id: str,
        *,
        reason: str | None = None,
        if_revision: Collection[str] | None = None,
    ) -> DeletedBadge:
        """Delete a badge. Its awards end and stay in each holder's history; holders lose its
        role (the role itself is deleted if the bot made it)."""
        authorize(actor, Operation.DELETE_BADGE)
        clean_reason = validation.reason(reason)
        async with self._core.write() as tx:
            uow = tx.uow
            badge = await tx.badge(guild_id, badge_id)
            _expect(badge, if_revision)
            await self._roles.refuse_while_gating(tx, badge)
            await _refuse_while_required(tx, badge)
            ended = clean_reason or f"Badge '{badge.name}' was deleted"
            if badge.role_id is not None and badge.role_managed:
                # the bot made this role for the badge: deleting it takes it from everyone
                await uow.role_queue.enqueue(
                    [self._roles.delete_role_change(badge, ended)], self._core.clock()
                )
            elif badge.role_id is not None:
                await uow.role_queue.enqueue_for_holders(
                    guild_id, badge.id, badge.role_id, RoleAction.REMOVE, ended, self._core.clock()
                )
            if badge.role_id is not None:
                tx.queued_in(guild_id)
            holders = await uow.awards.remove_all(guild_id, badge.id)
            tx.record_all(
                self._core.event(actor, EventKind.REVOKED, badge, user_id=uid, reason=ended)
                for uid in holders
            )
            tx.record(
                self._core.event(
                    actor, EventKind.BADGE_DELETED, badge, reason=clean_reason, before=fields(badge)
                )
            )
            await uow.badges.delete(guild_id, badge.id)
        return DeletedBadge(badge=badge, holder_ids=holders, role_id=badge.role_id)


def _expect(badge: Badge, revisions: Collection[str] | None) -> None:
    if revisions is not None and badge.revision not in revisions:
        raise PreconditionFailed()


async def _free_slug(uow: UnitOfWork, guild_id: int, name: str) -> str:
    base = validation.slug_from_name(name)
    taken = await uow.badges.slugs_like(guild_id, base)
    if base not in taken:
        return base
    n = 2
    while validation.with_suffix(base, n) in taken:
        n += 1
    return validation.with_suffix(base, n)


class BadgeIndex:
    """A guild's badges in memory, found as ``Catalog.find`` finds them (slug, name with
    look-alikes, id), sorted by name. Holder counts are as of loading: read a badge afresh
    to show them."""

    def __init__(self, badges: Sequence[Badge]) -> None:
        self.badges = sorted(badges, key=lambda b: b.name.casefold())
        self._by_slug = {b.slug: b for b in self.badges}
        self._by_name = {validation.name_key(b.name): b for b in self.badges}
        self._by_id = {b.id: b for b in self.badges}

    def find(self, query: str) -> Badge:
        text = _typed(query)
        badge = (
            self._by_slug.get(text.lower())
            or self._by_name.get(validation.name_key(text))
            or self._by_id.get(text)
        )
        if badge is None:
            raise _not_found(text, [(b.name, b.slug) for b in self.badges])
        return badge


def _typed(query: str) -> str:
    """What was typed to name a badge, spaces collapsed; refused if it cannot name one."""
    text = " ".join(query.split())
    if not text:
        raise InvalidInput("badge", "Name the badge (its name or slug).")
    if len(text) > FIND_MAX:
        raise BadgeNotFound(
            f"No badge is named like that: '{clip(text)}' is longer than any badge name."
        )
    return text


def _not_found(text: str, names: Sequence[tuple[str, str]]) -> BadgeNotFound:
    suggestion = _closest(text, names)
    message = f"No badge named '{clip(text)}' in this server."
    if suggestion:
        message += f" Did you mean '{suggestion}'?"
    return BadgeNotFound(message, suggestion=suggestion)


def _closest(text: str, names: Sequence[tuple[str, str]]) -> str | None:
    """The badge name closest to what was typed, if any is close enough."""
    by_key = {validation.name_key(n): n for n, _ in names}
    by_key.update({s: n for n, s in names})
    match = difflib.get_close_matches(validation.name_key(text), list(by_key), n=1, cutoff=0.6)
    return by_key[match[0]] if match else None


async def _refuse_while_required(tx: Tx, badge: Badge) -> None:
    """A badge other badges' rules require cannot go: dropping that one condition would hand
    the others (and their roles) to members who never earned them."""
    dependants = sorted(
        {
            rule.badge_id
            for rule in await tx.uow.rules.of_guild(badge.guild_id)
            if rule.required_badge_id == badge.id and rule.badge_id != badge.id
        }
    )
    if not dependants:
        return
    names = await badge_names(tx.uow, badge.guild_id)
    listed = ", ".join(f"'{clip(names.get(b, '?'))}'" for b in dependants[:5])
    raise RequiredByRules(
        f"The automatic rules of {listed} require '{clip(badge.name)}': remove those rules "
        "first (/badge rule remove)."
    )
