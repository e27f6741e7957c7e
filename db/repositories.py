"""SQL implementations of the repository protocols in badges.ports. They never commit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from badges.model import (
    AuditEvent,
    Award,
    Badge,
    EventKind,
    GuildSettings,
    MemberBadge,
    NewEvent,
    Page,
    RoleDrift,
)
from badges.permissions import Level
from badges.validation import name_key
from db.tables import AuditEventRow, AwardRow, BadgeRow, GuildSettingsRow, LevelRoleRow

_BADGE_COLUMNS = (
    BadgeRow.id,
    BadgeRow.guild_id,
    BadgeRow.name,
    BadgeRow.slug,
    BadgeRow.description,
    BadgeRow.icon,
    BadgeRow.color,
    BadgeRow.is_active,
    BadgeRow.role_id,
    BadgeRow.awarded_count,
    BadgeRow.created_at,
    BadgeRow.updated_at,
    BadgeRow.created_by,
    BadgeRow.role_managed,
)
_AWARD_COLUMNS = (
    AwardRow.id,
    AwardRow.guild_id,
    AwardRow.badge_id,
    AwardRow.user_id,
    AwardRow.awarded_by_id,
    AwardRow.awarded_by_name,
    AwardRow.reason,
    AwardRow.awarded_at,
)
_NB = len(_BADGE_COLUMNS)
# Bind parameters per statement stay far below SQLite's and asyncpg's limits.
_CHUNK = 500


def _badge(row: Sequence[Any]) -> Badge:
    return Badge(*row[:_NB])


def _award(row: Sequence[Any]) -> Award:
    return Award(*row[: len(_AWARD_COLUMNS)])


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

    async def _one(self, *where: Any) -> Badge | None:
        row = (await self._s.execute(select(*_BADGE_COLUMNS).where(*where))).first()
        return None if row is None else _badge(row)

    async def add(self, badge: Badge) -> None:
        await self._s.execute(
            insert(BadgeRow).values(
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
            )
        )

    async def get(self, guild_id: int, badge_id: str) -> Badge | None:
        return await self._one(BadgeRow.guild_id == guild_id, BadgeRow.id == badge_id)

    async def get_by_slug(self, guild_id: int, slug: str) -> Badge | None:
        return await self._one(BadgeRow.guild_id == guild_id, BadgeRow.slug == slug)

    async def get_by_name(self, guild_id: int, name_key: str) -> Badge | None:
        return await self._one(BadgeRow.guild_id == guild_id, BadgeRow.name_key == name_key)

    async def slugs_like(self, guild_id: int, base: str) -> set[str]:
        stmt = select(BadgeRow.slug).where(
            BadgeRow.guild_id == guild_id,
            or_(BadgeRow.slug == base, BadgeRow.slug.startswith(base + "-", autoescape=True)),
        )
        return set((await self._s.scalars(stmt)).all())

    async def names(self, guild_id: int) -> list[tuple[str, str]]:
        stmt = select(BadgeRow.name, BadgeRow.slug).where(BadgeRow.guild_id == guild_id)
        return [(n, s) for n, s in (await self._s.execute(stmt)).all()]

    async def save(self, badge: Badge) -> None:
        await self._s.execute(
            update(BadgeRow)
            .where(BadgeRow.id == badge.id)
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
                updated_at=badge.updated_at,
            )
        )

    async def delete(self, guild_id: int, badge_id: str) -> None:
        await self._s.execute(
            delete(BadgeRow).where(BadgeRow.guild_id == guild_id, BadgeRow.id == badge_id)
        )

    async def adjust_count(self, badge_id: str, delta: int) -> int:
        stmt = (
            update(BadgeRow)
            .where(BadgeRow.id == badge_id)
            .values(awarded_count=BadgeRow.awarded_count + delta)
            .returning(BadgeRow.awarded_count)
        )
        return int((await self._s.execute(stmt)).scalar_one())

    async def page(
        self, guild_id: int, *, active: bool | None, offset: int, limit: int
    ) -> Page[Badge]:
        where = [BadgeRow.guild_id == guild_id]
        if active is not None:
            where.append(BadgeRow.is_active == active)
        total = (await self._s.execute(select(func.count()).where(*where))).scalar_one()
        stmt = (
            select(*_BADGE_COLUMNS)
            .where(*where)
            .order_by(BadgeRow.name_key, BadgeRow.id)
            .offset(offset)
            .limit(limit)
        )
        rows = (await self._s.execute(stmt)).all()
        return Page([_badge(r) for r in rows], total=total, offset=offset, limit=limit)

    async def by_role(self, guild_id: int, role_id: int) -> Badge | None:
        return await self._one(BadgeRow.guild_id == guild_id, BadgeRow.role_id == role_id)

    async def linked(self, guild_id: int) -> list[Badge]:
        stmt = (
            select(*_BADGE_COLUMNS)
            .where(BadgeRow.guild_id == guild_id, BadgeRow.role_id.is_not(None))
            .order_by(BadgeRow.name_key)
        )
        return [_badge(r) for r in (await self._s.execute(stmt)).all()]


class SqlAwardRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._dialect = dialect

    async def add(self, award: Award) -> bool:
        stmt = (
            dialect_insert(self._dialect, AwardRow.__table__)
            .values(**_award_values(award))
            .on_conflict_do_nothing(index_elements=["badge_id", "user_id"])
            .returning(AwardRow.id)
        )
        return (await self._s.execute(stmt)).first() is not None

    async def add_many(self, awards: Sequence[Award]) -> set[int]:
        inserted: set[int] = set()
        for start in range(0, len(awards), _CHUNK):
            chunk = awards[start : start + _CHUNK]
            stmt = (
                dialect_insert(self._dialect, AwardRow.__table__)
                .values([_award_values(a) for a in chunk])
                .on_conflict_do_nothing(index_elements=["badge_id", "user_id"])
                .returning(AwardRow.user_id)
            )
            inserted.update((await self._s.scalars(stmt)).all())
        return inserted

    async def remove(self, guild_id: int, badge_id: str, user_id: int) -> Award | None:
        stmt = (
            delete(AwardRow)
            .where(
                AwardRow.guild_id == guild_id,
                AwardRow.badge_id == badge_id,
                AwardRow.user_id == user_id,
            )
            .returning(*_AWARD_COLUMNS)
        )
        row = (await self._s.execute(stmt)).first()
        return None if row is None else _award(row)

    async def remove_all(self, guild_id: int, badge_id: str) -> list[int]:
        stmt = (
            delete(AwardRow)
            .where(AwardRow.guild_id == guild_id, AwardRow.badge_id == badge_id)
            .returning(AwardRow.user_id)
        )
        return sorted((await self._s.scalars(stmt)).all())

    async def holders(
        self, guild_id: int, badge_id: str, *, offset: int, limit: int
    ) -> list[Award]:
        stmt = (
            select(*_AWARD_COLUMNS)
            .where(AwardRow.guild_id == guild_id, AwardRow.badge_id == badge_id)
            .order_by(AwardRow.awarded_at.desc(), AwardRow.user_id)
            .offset(offset)
            .limit(limit)
        )
        return [_award(r) for r in (await self._s.execute(stmt)).all()]

    async def holding(self, guild_id: int, badge_id: str, user_ids: Collection[int]) -> set[int]:
        ids = list(user_ids)
        found: set[int] = set()
        for start in range(0, len(ids), _CHUNK):
            stmt = select(AwardRow.user_id).where(
                AwardRow.guild_id == guild_id,
                AwardRow.badge_id == badge_id,
                AwardRow.user_id.in_(ids[start : start + _CHUNK]),
            )
            found.update((await self._s.scalars(stmt)).all())
        return found

    async def of_member(
        self, guild_id: int, user_id: int, *, offset: int, limit: int
    ) -> Page[MemberBadge]:
        where = and_(AwardRow.guild_id == guild_id, AwardRow.user_id == user_id)
        total = (await self._s.execute(select(func.count()).where(where))).scalar_one()
        if total <= offset:
            return Page([], total=total, offset=offset, limit=limit)
        stmt = (
            select(*_BADGE_COLUMNS, *_AWARD_COLUMNS)
            .join_from(AwardRow, BadgeRow, AwardRow.badge_id == BadgeRow.id)
            .where(where)
            .order_by(AwardRow.awarded_at.desc(), BadgeRow.name_key)
            .offset(offset)
            .limit(limit)
        )
        rows = (await self._s.execute(stmt)).all()
        items = [MemberBadge(badge=_badge(r), award=_award(r[_NB:])) for r in rows]
        return Page(items, total=total, offset=offset, limit=limit)

    async def holder_ids(self, guild_id: int, badge_id: str) -> set[int]:
        stmt = select(AwardRow.user_id).where(
            AwardRow.guild_id == guild_id, AwardRow.badge_id == badge_id
        )
        return set((await self._s.scalars(stmt)).all())

    async def badge_ids_of(self, guild_id: int, user_id: int) -> set[str]:
        stmt = select(AwardRow.badge_id).where(
            AwardRow.guild_id == guild_id, AwardRow.user_id == user_id
        )
        return set((await self._s.scalars(stmt)).all())


def _event(row: Row[Any]) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        guild_id=row.guild_id,
        kind=EventKind(row.kind),
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        at=row.at,
        badge_id=row.badge_id,
        badge_name=row.badge_name,
        user_id=row.user_id,
        reason=row.reason,
        before=row.before,
        after=row.after,
    )


class SqlAuditLog:
    _MEMBER_KINDS = (EventKind.AWARDED.value, EventKind.REVOKED.value)

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def record(self, events: Sequence[NewEvent]) -> None:
        rows = [
            {
                "guild_id": e.guild_id,
                "kind": e.kind.value,
                "actor_id": e.actor_id,
                "actor_name": e.actor_name,
                "at": e.at,
                "badge_id": e.badge_id,
                "badge_name": e.badge_name,
                "user_id": e.user_id,
                "reason": e.reason,
                "before": e.before,
                "after": e.after,
            }
            for e in events
        ]
        for start in range(0, len(rows), _CHUNK):
            await self._s.execute(insert(AuditEventRow), rows[start : start + _CHUNK])

    async def member_history(
        self, guild_id: int, user_id: int, *, offset: int, limit: int
    ) -> Page[AuditEvent]:
        where = and_(
            AuditEventRow.guild_id == guild_id,
            AuditEventRow.user_id == user_id,
            AuditEventRow.kind.in_(self._MEMBER_KINDS),
        )
        total = (await self._s.execute(select(func.count()).where(where))).scalar_one()
        stmt = (
            select(AuditEventRow.__table__)
            .where(where)
            .order_by(AuditEventRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        rows = (await self._s.execute(stmt)).all()
        return Page([_event(r) for r in rows], total=total, offset=offset, limit=limit)


class SqlSettingsRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._dialect = dialect

    async def get(self, guild_id: int) -> GuildSettings:
        row = (
            await self._s.execute(
                select(GuildSettingsRow.log_channel_id, GuildSettingsRow.role_drift).where(
                    GuildSettingsRow.guild_id == guild_id
                )
            )
        ).first()
        log_channel, drift = (row[0], RoleDrift(row[1])) if row else (None, RoleDrift.REVERT)
        roles = (
            await self._s.execute(
                select(LevelRoleRow.role_id, LevelRoleRow.level).where(
                    LevelRoleRow.guild_id == guild_id
                )
            )
        ).all()
        return GuildSettings(
            guild_id=guild_id,
            admin_role_ids=frozenset(r for r, lv in roles if lv == Level.ADMIN),
            moderator_role_ids=frozenset(r for r, lv in roles if lv == Level.MODERATOR),
            log_channel_id=log_channel,
            role_drift=drift,
        )

    async def set_role_level(self, guild_id: int, role_id: int, level: Level | None) -> None:
        await self._s.execute(
            delete(LevelRoleRow).where(
                LevelRoleRow.guild_id == guild_id, LevelRoleRow.role_id == role_id
            )
        )
        if level is not None:
            await self._s.execute(
                insert(LevelRoleRow).values(guild_id=guild_id, role_id=role_id, level=int(level))
            )

    async def set_role_drift(self, guild_id: int, drift: RoleDrift) -> None:
        stmt = dialect_insert(self._dialect, GuildSettingsRow.__table__).values(
            guild_id=guild_id, role_drift=drift.value
        )
        await self._s.execute(
            stmt.on_conflict_do_update(
                index_elements=["guild_id"], set_={"role_drift": drift.value}
            )
        )

    async def set_log_channel(self, guild_id: int, channel_id: int | None) -> None:
        stmt = dialect_insert(self._dialect, GuildSettingsRow.__table__).values(
            guild_id=guild_id, log_channel_id=channel_id
        )
        await self._s.execute(
            stmt.on_conflict_do_update(
                index_elements=["guild_id"], set_={"log_channel_id": channel_id}
            )
        )
