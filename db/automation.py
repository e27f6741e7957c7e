"""Award rules, badge policies and gifts in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from badges.automation import (
    Awarders,
    AwardPolicy,
    Gift,
    GiftSummary,
    Rule,
    RuleDraft,
    RuleKind,
    Weights,
)
from db.repositories import dialect_insert
from db.tables import AWARD_RULES, BADGE_POLICIES, GIFTS

R = AWARD_RULES.c
P = BADGE_POLICIES.c
G = GIFTS.c


def _rule(row: Any) -> Rule:
    return Rule(
        id=row.id,
        guild_id=row.guild_id,
        badge_id=row.badge_id,
        kind=RuleKind(row.kind),
        threshold=row.threshold,
        window_days=row.window_days,
        excluded_channel_ids=frozenset(int(c) for c in row.excluded_channel_ids or ()),
        cooldown=row.cooldown,
        weights=Weights(row.weight_messages, row.weight_reactions, row.weight_voice),
        required_badge_id=row.required_badge_id,
        replaces=row.replaces,
        created_by=row.created_by,
        created_at=row.created_at,
    )


class SqlRuleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(
        self, guild_id: int, badge_id: str, draft: RuleDraft, by: int, at: datetime
    ) -> Rule:
        stmt = (
            insert(AWARD_RULES)
            .values(
                guild_id=guild_id,
                badge_id=badge_id,
                kind=draft.kind.value,
                threshold=draft.threshold,
                window_days=draft.window_days,
                excluded_channel_ids=sorted(draft.excluded_channel_ids),
                cooldown=draft.cooldown,
                weight_messages=draft.weights.messages,
                weight_reactions=draft.weights.reactions,
                weight_voice=draft.weights.voice_minutes,
                required_badge_id=draft.required_badge_id,
                replaces=draft.replaces,
                created_by=by,
                created_at=at,
            )
            .returning(*AWARD_RULES.c)
        )
        return _rule((await self._s.execute(stmt)).one())

    async def of_badge(self, guild_id: int, badge_id: str) -> list[Rule]:
        stmt = (
            select(AWARD_RULES).where(R.guild_id == guild_id, R.badge_id == badge_id).order_by(R.id)
        )
        return [_rule(r) for r in (await self._s.execute(stmt)).all()]

    async def of_guild(self, guild_id: int) -> list[Rule]:
        stmt = select(AWARD_RULES).where(R.guild_id == guild_id).order_by(R.id)
        return [_rule(r) for r in (await self._s.execute(stmt)).all()]

    async def remove(self, guild_id: int, rule_id: int) -> Rule | None:
        stmt = (
            delete(AWARD_RULES)
            .where(R.guild_id == guild_id, R.id == rule_id)
            .returning(*AWARD_RULES.c)
        )
        row = (await self._s.execute(stmt)).first()
        return None if row is None else _rule(row)

    async def guilds(self) -> list[int]:
        return sorted((await self._s.scalars(select(R.guild_id).distinct())).all())


def _policy(row: Any) -> AwardPolicy:
    return AwardPolicy(
        badge_id=row.badge_id,
        awarders=Awarders(row.awarders),
        role_id=row.role_id,
        per_day=row.per_day,
        self_award=row.self_award,
        auto_revoke=row.auto_revoke,
        rotation_hours=row.rotation_hours,
        rotated_at=row.rotated_at,
    )


class SqlPolicyRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._dialect = dialect

    async def get(self, guild_id: int, badge_id: str) -> AwardPolicy:
        stmt = select(BADGE_POLICIES).where(P.guild_id == guild_id, P.badge_id == badge_id)
        row = (await self._s.execute(stmt)).first()
        return AwardPolicy(badge_id) if row is None else _policy(row)

    async def of_guild(self, guild_id: int) -> dict[str, AwardPolicy]:
        stmt = select(BADGE_POLICIES).where(P.guild_id == guild_id)
        return {r.badge_id: _policy(r) for r in (await self._s.execute(stmt)).all()}

    async def save(self, guild_id: int, policy: AwardPolicy) -> None:
        values = {
            "awarders": policy.awarders.value,
            "role_id": policy.role_id,
            "per_day": policy.per_day,
            "self_award": policy.self_award,
            "auto_revoke": policy.auto_revoke,
            "rotation_hours": policy.rotation_hours,
            "rotated_at": policy.rotated_at,
        }
        stmt = dialect_insert(self._dialect, BADGE_POLICIES).values(
            badge_id=policy.badge_id, guild_id=guild_id, **values
        )
        await self._s.execute(stmt.on_conflict_do_update(index_elements=["badge_id"], set_=values))


def _gift(row: Any) -> Gift:
    return Gift(
        guild_id=row.guild_id,
        badge_id=row.badge_id,
        giver_id=row.giver_id,
        giver_name=row.giver_name,
        recipient_id=row.recipient_id,
        reason=row.reason,
        given_at=row.given_at,
    )


class SqlGiftRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._dialect = dialect

    async def add(self, gift: Gift) -> bool:
        stmt = (
            dialect_insert(self._dialect, GIFTS)
            .values(
                guild_id=gift.guild_id,
                badge_id=gift.badge_id,
                giver_id=gift.giver_id,
                giver_name=gift.giver_name,
                recipient_id=gift.recipient_id,
                reason=gift.reason,
                given_at=gift.given_at,
            )
            .on_conflict_do_nothing(index_elements=["badge_id", "recipient_id", "giver_id"])
            .returning(G.id)
        )
        return (await self._s.execute(stmt)).first() is not None

    async def given_since(self, badge_id: str, giver_id: int, since: datetime) -> int:
        stmt = select(func.count()).where(
            G.badge_id == badge_id, G.giver_id == giver_id, G.given_at >= since
        )
        return int(await self._s.scalar(stmt) or 0)

    async def summary(
        self, guild_id: int, user_id: int, badge_ids: Sequence[str]
    ) -> dict[str, GiftSummary]:
        if not badge_ids:
            return {}
        stmt = (
            select(GIFTS)
            .where(
                G.guild_id == guild_id,
                G.recipient_id == user_id,
                G.badge_id.in_(list(badge_ids)),
            )
            .order_by(G.given_at, G.id)
        )
        counts: dict[str, int] = {}
        latest: dict[str, Gift] = {}
        for row in (await self._s.execute(stmt)).all():
            counts[row.badge_id] = counts.get(row.badge_id, 0) + 1
            latest[row.badge_id] = _gift(row)
        return {b: GiftSummary(counts[b], latest[b]) for b in counts}

    async def remove_of(self, badge_id: str, recipient_ids: Sequence[int]) -> None:
        ids = list(recipient_ids)
        for start in range(0, len(ids), 500):
            await self._s.execute(
                delete(GIFTS).where(
                    G.badge_id == badge_id, G.recipient_id.in_(ids[start : start + 500])
                )
            )
