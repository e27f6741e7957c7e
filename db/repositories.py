"""Badges and awards in SQL (the audit trail: db/audit_log.py; settings: db/guild_settings.py),
and the dialect insert every repository shares. They never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from badges.errors import NameTaken, RoleTaken, SlugTaken
from badges.model import (
    Award,
    Badge,
    MemberBadge,
    Page,
)
from badges.validation import name_key
from db.tables import AWARDS, BADGES, GIFTS

# Core columns, not ORM attributes: reads skip the ORM's entity loading (several times
# faster for long lists) and rows map straight onto the domain's dataclasses.
B = BADGES.c
A = AWARDS.c

_BADGE_COLUMNS = (
    B.id,
    B.guild_id,
    B.name,
    B.slug,
    B.description,
    B.icon,
    B.color,
    B.is_active,
    B.role_id,
    B.awarded_count,
    B.created_at,
    B.updated_at,
    B.created_by,
    B.role_managed,
    B.role_power,
)
_AWARD_COLUMNS = (
    A.id,
    A.guild_id,
    A.badge_id,
    A.user_id,
    A.awarded_by_id,
    A.awarded_by_name,
    A.reason,
    A.awarded_at,
)
_NB = len(_BADGE_COLUMNS)
# Bind parameters per statement stay far below SQLite's and asyncpg's limits.


def _gifts_of_award() -> Any:
    """The gifts behind the award of the outer statement (same badge, same recipient)."""
    return and_(
        GIFTS.c.guild_id == A.guild_id,
        GIFTS.c.badge_id == A.badge_id,
        GIFTS.c.recipient_id == A.user_id,
    )


def _latest_gift(column: Any) -> Any:
    return (
        select(column)
        .where(_gifts_of_award())
        .order_by(GIFTS.c.given_at.desc(), GIFTS.c.id.desc())
        .limit(1)
        .correlate(AWARDS)
        .scalar_subquery()
    )


# How many members gave the badge, and the latest gift's giver and reason, read with the award.
_GIFT_COLUMNS = (
    select(func.count())
    .select_from(GIFTS)
    .where(_gifts_of_award())
    .correlate(AWARDS)
    .scalar_subquery(),
    _latest_gift(GIFTS.c.giver_name),
    _latest_gift(GIFTS.c.reason),
)


def _member_badge(row: Sequence[Any]) -> MemberBadge:
    gifts, giver, reason = row[_NB + len(_AWARD_COLUMNS) :]
    return MemberBadge(
        badge=_badge(row),
        award=_award(row[_NB:]),
        gifts=gifts or 0,
        latest_giver=giver if gifts else None,
        latest_reason=reason if gifts else None,
    )


def _badge(row: Sequence[Any]) -> Badge:
    return Badge(*row[:_NB])


def _award(row: Sequence[Any]) -> Award:
    return Award(*row[: len(_AWARD_COLUMNS)])


def _key(key: Sequence[Any], *columns: Any) -> Any:
    """A keyset key bound with its columns' types (UTC times stored as SQLite expects)."""
    return tuple_(*(literal(v, c.type) for v, c in zip(key, columns, strict=True)))


def dialect_insert(dialect: str, table: Any) -> Any:
    """A dialect insert that supports ON CONFLICT DO NOTHING."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _award_values(award: Award) -> dict[str, Any]:
    return {
        "id": award.id,
        "guild_id": award.guild_id,
        "badge_id": award.badge_id,
        "user_id": award.user_id,
        "awarded_by_id": award.awarded_by_id,
        "awarded_by_name": award.awarded_by_name,
        "reason": award.reason,
        "awarded_at": award.awarded_at,
    }


class SqlBadgeRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._dialect = dialect

    async def _one(self, *where: Any, lock: bool = False) -> Badge | None:
        stmt = select(*_BADGE_COLUMNS).where(*where)
        if lock:  # PostgreSQL: FOR UPDATE; SQLite serialises writers and renders nothing
            stmt = stmt.with_for_update()
        row = (await self._s.execute(stmt)).first()
        return None if row is None else _badge(row)

    async def add(self, badge: Badge) -> None:
        await self._write(
            badge,
            insert(BADGES).values(
                id=badge.id,
                guild_id=badge.guild_id,
                name=badge.name,
                name_key=name_key(badge.name),
                slug=badge.slug,
                description=badge.description,
                icon=badge.icon,
                color=badge.color,
                is_active=badge.is_active,
                role_id=badge.role_id,
                awarded_count=badge.awarded_count,
                created_at=badge.created_at,
                updated_at=badge.updated_at,
                created_by=badge.created_by,
                role_managed=badge.role_managed,
                role_power=badge.role_power,
            ),
        )

    async def _write(self, badge: Badge, statement: Any) -> None:
        """Run an insert or update of a badge. The service checked names, slugs and roles
        first; a unique violation here means another writer won a race (PostgreSQL), and is
        reported as the same refusal the check would have given."""
        try:
            await self._s.execute(statement)
        except IntegrityError as exc:
            text = str(exc.orig)
            if "uq_badges_guild_id_slug" in text:
                raise SlugTaken(badge.slug) from exc
            if "uq_badges_guild_id_name_key" in text:
                raise NameTaken(badge.name) from exc
            if "uq_badges_guild_id_role_id" in text:
                raise RoleTaken("another badge") from exc
            raise

    async def get(self, guild_id: int, badge_id: str, *, lock: bool = False) -> Badge | None:
        return await self._one(B.guild_id == guild_id, B.id == badge_id, lock=lock)

    async def get_by_slug(self, guild_id: int, slug: str) -> Badge | None:
        return await self._one(B.guild_id == guild_id, B.slug == slug)

    async def get_by_name(self, guild_id: int, name_key: str) -> Badge | None:
        return await self._one(B.guild_id == guild_id, B.name_key == name_key)

    async def slugs_like(self, guild_id: int, base: str) -> set[str]:
        stmt = select(B.slug).where(
            B.guild_id == guild_id,
            or_(B.slug == base, B.slug.startswith(base + "-", autoescape=True)),
        )
        return set((await self._s.scalars(stmt)).all())

    async def names(self, guild_id: int) -> list[tuple[str, str]]:
        stmt = select(B.name, B.slug).where(B.guild_id == guild_id)
        return [(n, s) for n, s in (await self._s.execute(stmt)).all()]

    async def id_names(self, guild_id: int) -> list[tuple[str, str]]:
        stmt = select(B.name, B.id).where(B.guild_id == guild_id)
        return [(n, i) for n, i in (await self._s.execute(stmt)).all()]

    async def save(self, badge: Badge) -> None:
        await self._write(
            badge,
            update(BADGES)
            .where(B.id == badge.id)
            .values(
                name=badge.name,
                name_key=name_key(badge.name),
                slug=badge.slug,
                description=badge.description,
                icon=badge.icon,
                color=badge.color,
                is_active=badge.is_active,
                role_id=badge.role_id,
                role_managed=badge.role_managed,
                role_power=badge.role_power,
                updated_at=badge.updated_at,
            ),
        )

    async def delete(self, guild_id: int, badge_id: str) -> None:
        await self._s.execute(delete(BADGES).where(B.guild_id == guild_id, B.id == badge_id))

    async def adjust_count(self, badge_id: str, delta: int) -> int:
        stmt = (
            update(BADGES)
            .where(B.id == badge_id)
            .values(awarded_count=B.awarded_count + delta)
            .returning(B.awarded_count)
        )
        return int((await self._s.execute(stmt)).scalar_one())

    async def page(
        self, guild_id: int, *, active: bool | None, offset: int, limit: int
    ) -> Page[Badge]:
        where = [B.guild_id == guild_id]
        if active is not None:
            where.append(B.is_active == active)
        total = (await self._s.execute(select(func.count()).where(*where))).scalar_one()
        stmt = (
            select(*_BADGE_COLUMNS)
            .where(*where)
            .order_by(func.lower(B.name), B.id)
            .offset(offset)
            .limit(limit)
        )
        rows = (await self._s.execute(stmt)).all()
        return Page([_badge(r) for r in rows], total=total, offset=offset, limit=limit)

    async def after(
        self,
        guild_id: int,
        *,
        active: bool | None,
        key: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Badge]:
        stmt = select(*_BADGE_COLUMNS).where(B.guild_id == guild_id)
        if active is not None:
            stmt = stmt.where(B.is_active == active)
        if key is not None:
            stmt = stmt.where(tuple_(B.created_at, B.id) > _key(key, B.created_at, B.id))
        stmt = stmt.order_by(B.created_at, B.id).limit(limit)
        return [_badge(r) for r in (await self._s.execute(stmt)).all()]

    async def by_role(self, guild_id: int, role_id: int, *, lock: bool = False) -> Badge | None:
        return await self._one(B.guild_id == guild_id, B.role_id == role_id, lock=lock)

    async def linked(self, guild_id: int) -> list[Badge]:
        stmt = (
            select(*_BADGE_COLUMNS)
            .where(B.guild_id == guild_id, B.role_id.is_not(None))
            .order_by(func.lower(B.name), B.id)
        )
        return [_badge(r) for r in (await self._s.execute(stmt)).all()]


class SqlAwardRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._dialect = dialect

    async def add(self, award: Award) -> bool:
        stmt = (
            dialect_insert(self._dialect, AWARDS)
            .values(**_award_values(award))
            .on_conflict_do_nothing(index_elements=["badge_id", "user_id"])
            .returning(A.id)
        )
        return (await self._s.execute(stmt)).first() is not None

    async def add_many(self, awards: Sequence[Award]) -> set[int]:
        if not awards:
            return set()
        # one cached statement run over all rows (insertmanyvalues batches it); a multi-row
        # VALUES per chunk would be compiled anew for every chunk
        stmt = (
            dialect_insert(self._dialect, AWARDS)
            .on_conflict_do_nothing(index_elements=["badge_id", "user_id"])
            .returning(A.user_id)
        )
        rows = [_award_values(a) for a in awards]
        return set((await self._s.scalars(stmt, rows)).all())

    async def remove(self, guild_id: int, badge_id: str, user_id: int) -> Award | None:
        stmt = (
            delete(AWARDS)
            .where(
                A.guild_id == guild_id,
                A.badge_id == badge_id,
                A.user_id == user_id,
            )
            .returning(*_AWARD_COLUMNS)
        )
        row = (await self._s.execute(stmt)).first()
        return None if row is None else _award(row)

    async def remove_all(self, guild_id: int, badge_id: str) -> list[int]:
        stmt = (
            delete(AWARDS)
            .where(A.guild_id == guild_id, A.badge_id == badge_id)
            .returning(A.user_id)
        )
        return sorted((await self._s.scalars(stmt)).all())

    async def remove_many(
        self,
        guild_id: int,
        badge_id: str,
        user_ids: Sequence[int],
        *,
        awarded_by_id: int | None = None,
    ) -> set[int]:
        removed: set[int] = set()
        ids = list(user_ids)
        for start in range(0, len(ids), 500):
            stmt = delete(AWARDS).where(
                A.guild_id == guild_id,
                A.badge_id == badge_id,
                A.user_id.in_(ids[start : start + 500]),
            )
            if awarded_by_id is not None:
                stmt = stmt.where(A.awarded_by_id == awarded_by_id)
            removed.update((await self._s.scalars(stmt.returning(A.user_id))).all())
        return removed

    async def holder_ids_by(
        self,
        guild_id: int,
        badge_id: str,
        awarded_by_id: int,
        user_ids: Sequence[int] | None = None,
    ) -> set[int]:
        stmt = select(A.user_id).where(
            A.guild_id == guild_id, A.badge_id == badge_id, A.awarded_by_id == awarded_by_id
        )
        if user_ids is None:
            return set((await self._s.scalars(stmt)).all())
        found: set[int] = set()
        ids = list(user_ids)
        for start in range(0, len(ids), 500):
            part = stmt.where(A.user_id.in_(ids[start : start + 500]))
            found.update((await self._s.scalars(part)).all())
        return found

    async def holding(self, guild_id: int, badge_id: str, user_ids: Sequence[int]) -> set[int]:
        found: set[int] = set()
        ids = list(user_ids)
        for start in range(0, len(ids), 500):
            stmt = select(A.user_id).where(
                A.guild_id == guild_id,
                A.badge_id == badge_id,
                A.user_id.in_(ids[start : start + 500]),
            )
            found.update((await self._s.scalars(stmt)).all())
        return found

    async def holders(
        self, guild_id: int, badge_id: str, *, offset: int, limit: int
    ) -> list[Award]:
        stmt = (
            select(*_AWARD_COLUMNS)
            .where(A.guild_id == guild_id, A.badge_id == badge_id)
            .order_by(A.awarded_at.desc(), A.user_id.desc())
            .offset(offset)
            .limit(limit)
        )
        return [_award(r) for r in (await self._s.execute(stmt)).all()]

    async def of_member(
        self, guild_id: int, user_id: int, *, offset: int, limit: int
    ) -> Page[MemberBadge]:
        where = and_(A.guild_id == guild_id, A.user_id == user_id)
        stmt = (
            select(*_BADGE_COLUMNS, *_AWARD_COLUMNS, *_GIFT_COLUMNS)
            .join_from(AWARDS, BADGES, A.badge_id == B.id)
            .where(where)
            .order_by(A.awarded_at.desc(), func.lower(B.name))
            .offset(offset)
            .limit(limit)
        )
        rows = (await self._s.execute(stmt)).all()
        items = [_member_badge(r) for r in rows]
        if len(rows) < limit and (rows or offset == 0):
            # the page is the last one: no count needed (one statement fewer per /badges)
            return Page(items, total=offset + len(rows), offset=offset, limit=limit)
        total = (await self._s.execute(select(func.count()).where(where))).scalar_one()
        return Page(items, total=total, offset=offset, limit=limit)

    async def holders_after(
        self, guild_id: int, badge_id: str, *, key: tuple[datetime, int] | None, limit: int
    ) -> list[Award]:
        stmt = select(*_AWARD_COLUMNS).where(A.guild_id == guild_id, A.badge_id == badge_id)
        if key is not None:
            stmt = stmt.where(tuple_(A.awarded_at, A.user_id) < _key(key, A.awarded_at, A.user_id))
        stmt = stmt.order_by(A.awarded_at.desc(), A.user_id.desc()).limit(limit)
        return [_award(r) for r in (await self._s.execute(stmt)).all()]

    async def of_member_after(
        self, guild_id: int, user_id: int, *, key: tuple[datetime, str] | None, limit: int
    ) -> list[MemberBadge]:
        stmt = (
            select(*_BADGE_COLUMNS, *_AWARD_COLUMNS)
            .join_from(AWARDS, BADGES, A.badge_id == B.id)
            .where(A.guild_id == guild_id, A.user_id == user_id)
        )
        if key is not None:
            stmt = stmt.where(
                tuple_(A.awarded_at, A.badge_id) < _key(key, A.awarded_at, A.badge_id)
            )
        stmt = stmt.order_by(A.awarded_at.desc(), A.badge_id.desc()).limit(limit)
        rows = (await self._s.execute(stmt)).all()
        return [MemberBadge(badge=_badge(r), award=_award(r[_NB:])) for r in rows]

    async def holder_ids(self, guild_id: int, badge_id: str) -> set[int]:
        stmt = select(A.user_id).where(A.guild_id == guild_id, A.badge_id == badge_id)
        return set((await self._s.scalars(stmt)).all())

    async def badge_ids_of(self, guild_id: int, user_id: int) -> set[str]:
        stmt = select(A.badge_id).where(A.guild_id == guild_id, A.user_id == user_id)
        return set((await self._s.scalars(stmt)).all())
