"""Activity counts and member records in SQL: upserts that add, and weighted sums."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from badges.activity import ActivityCount
from badges.automation import ROLLED_UP_DAY, MemberRecord, Weights
from db.repositories import dialect_insert
from db.tables import ACTIVITY_COUNTS, MEMBER_RECORDS

C = ACTIVITY_COUNTS.c
M = MEMBER_RECORDS.c
_SUMMED = ("messages", "paced_messages", "reactions", "voice_minutes")
_CHUNK = 1000
_IN_CHUNK = 500


class SqlActivityRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._dialect = dialect

    async def add(self, counts: Sequence[ActivityCount]) -> None:
        if not counts:
            return
        stmt = dialect_insert(self._dialect, ACTIVITY_COUNTS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["guild_id", "user_id", "day", "channel_id"],
            set_={name: C[name] + stmt.excluded[name] for name in _SUMMED},
        )
        rows = [
            {
                "guild_id": c.guild_id,
                "user_id": c.user_id,
                "day": c.day,
                "channel_id": c.channel_id,
                "messages": c.messages,
                "paced_messages": c.paced_messages,
                "reactions": c.reactions,
                "voice_minutes": c.voice_minutes,
            }
            for c in counts
        ]
        await self._in_chunks(stmt, rows)

    async def _in_chunks(self, stmt: Any, rows: list[dict[str, Any]]) -> None:
        """One cached statement over the rows, ``_CHUNK`` at a time."""
        for start in range(0, len(rows), _CHUNK):
            await self._s.execute(stmt, rows[start : start + _CHUNK])

    async def remember(self, records: Sequence[MemberRecord]) -> None:
        if not records:
            return
        stmt = dialect_insert(self._dialect, MEMBER_RECORDS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["guild_id", "user_id"],
            set_={
                "joined_at": func.coalesce(stmt.excluded.joined_at, M.joined_at),
                "boosting_since": stmt.excluded.boosting_since,
            },
        )
        rows = [
            {
                "guild_id": r.guild_id,
                "user_id": r.user_id,
                "joined_at": r.joined_at,
                "boosting_since": r.boosting_since,
            }
            for r in records
        ]
        await self._in_chunks(stmt, rows)

    def _scored(
        self,
        guild_id: int,
        weights: Weights,
        *,
        since_day: int | None,
        excluded: frozenset[int],
        paced: bool,
        people_only: bool = False,
    ) -> Any:
        terms: list[ColumnElement[Any]] = []
        for column, weight in (
            (C.paced_messages if paced else C.messages, weights.messages),
            (C.reactions, weights.reactions),
            (C.voice_minutes, weights.voice_minutes),
        ):
            if weight:
                terms.append(column * literal(float(weight)) if weight != 1 else column)
        expr: ColumnElement[Any] = terms[0] if terms else literal(0)
        for term in terms[1:]:
            expr = expr + term
        score = func.sum(expr).label("score")
        stmt = select(C.user_id, score).where(C.guild_id == guild_id)
        if since_day is not None:
            stmt = stmt.where(C.day >= since_day)
        if excluded:
            stmt = stmt.where(C.channel_id.not_in(sorted(excluded)))
        if people_only:  # ranks hold members the bot saw as people: no bots or webhooks
            stmt = stmt.where(
                C.user_id.in_(select(M.user_id).where(M.guild_id == guild_id).scalar_subquery())
            )
        return stmt.group_by(C.user_id), score

    async def totals(
        self,
        guild_id: int,
        weights: Weights,
        *,
        since_day: int | None,
        excluded: frozenset[int],
        paced: bool,
        user_ids: Sequence[int] | None = None,
        at_least: float | None = None,
    ) -> dict[int, float]:
        base, score = self._scored(
            guild_id, weights, since_day=since_day, excluded=excluded, paced=paced
        )
        if at_least is not None:
            base = base.having(score >= at_least)
        found: dict[int, float] = {}
        if user_ids is None:
            for uid, value in (await self._s.execute(base)).all():
                found[uid] = float(value or 0)
            return found
        ids = list(user_ids)
        for start in range(0, len(ids), _IN_CHUNK):
            stmt = base.where(C.user_id.in_(ids[start : start + _IN_CHUNK]))
            for uid, value in (await self._s.execute(stmt)).all():
                found[uid] = float(value or 0)
        return found

    async def top(
        self,
        guild_id: int,
        weights: Weights,
        *,
        since_day: int | None,
        excluded: frozenset[int],
        paced: bool,
        limit: int,
    ) -> list[tuple[int, float]]:
        base, score = self._scored(
            guild_id, weights, since_day=since_day, excluded=excluded, paced=paced, people_only=True
        )
        stmt = base.having(score > 0).order_by(score.desc(), C.user_id).limit(limit)
        return [(uid, float(value)) for uid, value in (await self._s.execute(stmt)).all()]

    async def ahead_of(
        self,
        guild_id: int,
        weights: Weights,
        *,
        since_day: int | None,
        excluded: frozenset[int],
        paced: bool,
        score: float,
        user_id: int,
    ) -> int:
        base, total = self._scored(
            guild_id, weights, since_day=since_day, excluded=excluded, paced=paced, people_only=True
        )
        ahead = (total > score) | ((total == score) & (C.user_id < user_id))
        inner = base.having(ahead).subquery()
        return int(await self._s.scalar(select(func.count()).select_from(inner)) or 0)

    async def records(
        self, guild_id: int, user_ids: Sequence[int] | None = None
    ) -> dict[int, MemberRecord]:
        stmt = select(M.user_id, M.joined_at, M.boosting_since).where(M.guild_id == guild_id)
        chunks: list[Any] = []
        if user_ids is None:
            chunks.append(stmt)
        else:
            ids = list(user_ids)
            chunks.extend(
                stmt.where(M.user_id.in_(ids[i : i + _IN_CHUNK]))
                for i in range(0, len(ids), _IN_CHUNK)
            )
        found: dict[int, MemberRecord] = {}
        for part in chunks:
            for uid, joined, boosting in (await self._s.execute(part)).all():
                found[uid] = MemberRecord(guild_id, uid, joined, boosting)
        return found

    async def forget(self, guild_id: int, user_id: int) -> None:
        await self._s.execute(
            delete(MEMBER_RECORDS).where(M.guild_id == guild_id, M.user_id == user_id)
        )

    async def active_members(self, guild_id: int) -> set[int]:
        stmt = union(
            select(C.user_id).where(C.guild_id == guild_id),
            select(M.user_id).where(M.guild_id == guild_id),
        )
        return set((await self._s.scalars(stmt)).all())

    async def roll_up(self, before_day: int) -> int:
        old = (C.day > ROLLED_UP_DAY) & (C.day < before_day)
        summed = (
            select(
                C.guild_id,
                C.user_id,
                literal(ROLLED_UP_DAY).label("day"),
                C.channel_id,
                *(func.sum(C[name]).label(name) for name in _SUMMED),
            )
            .where(old)
            .group_by(C.guild_id, C.user_id, C.channel_id)
        )
        stmt = dialect_insert(self._dialect, ACTIVITY_COUNTS).from_select(
            ["guild_id", "user_id", "day", "channel_id", *_SUMMED], summed
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["guild_id", "user_id", "day", "channel_id"],
            set_={name: C[name] + stmt.excluded[name] for name in _SUMMED},
        )
        await self._s.execute(stmt)
        result: Any = await self._s.execute(delete(ACTIVITY_COUNTS).where(old))
        return int(result.rowcount or 0)
