"""Deciding who earns automatic badges: a member qualifies when every rule of the badge holds.
Incremental (some members, after their counts changed) or a full pass (everyone, retroactive,
and top-N rotation when due). Awards and take-backs go through ``Awards`` like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from badges.automation import (
    AUTOMATIC_ID,
    AwardPolicy,
    EvaluationReport,
    MemberRecord,
    Rule,
    RuleKind,
    chain_order,
    day_number,
    describe,
    plan,
    rotation_due,
    window_start,
)
from badges.errors import BadgeError, BadgeNotFound, clip
from badges.ports import UnitOfWork
from badges.service.awards import Awards
from badges.service.core import ServiceCore, badge_names

log = logging.getLogger("badges.automation")


class Evaluation:
    def __init__(self, core: ServiceCore, awards: Awards) -> None:
        self._core = core
        self._awards = awards

    async def evaluate(
        self,
        guild_id: int,
        *,
        members: Collection[int] | None = None,
        badges: Collection[str] | None = None,
        rotate: bool = False,
    ) -> EvaluationReport:
        """Award (and with auto-revoke, take back) automatic badges. With ``members``, only
        they are considered and top-N badges wait for their rotation; without, everyone is
        (retroactive). ``rotate`` re-ranks top-N badges even when their rotation is not due."""
        async with self._core.read() as uow:
            rules = await uow.rules.of_guild(guild_id)
            policies = await uow.policies.of_guild(guild_id)
        if not rules:
            return EvaluationReport()
        by_badge: dict[str, list[Rule]] = {}
        for rule in rules:
            by_badge.setdefault(rule.badge_id, []).append(rule)
        scope = set(members) if members is not None else None
        now = self._core.clock()
        async with self._core.read() as uow:
            names = await badge_names(uow, guild_id)
        awarded = revoked = evaluated = 0
        refused: dict[str, str] = {}
        stepped_down: dict[str, set[int]] = {}
        """Lower badges of a chain whose higher badge was just taken back: checked again."""
        for badge_id in chain_order(rules) + _lowers_last(rules):
            if badge_id.startswith(_AGAIN):
                badge_id = badge_id.removeprefix(_AGAIN)
                again = stepped_down.pop(badge_id, None)
                if not again:
                    continue
                try:
                    got, _ = await self._evaluate_badge(
                        guild_id,
                        badge_id,
                        by_badge[badge_id],
                        policies.get(badge_id, AwardPolicy(badge_id)),
                        again,
                        now,
                        names,
                        replaced_by(rules, badge_id),
                    )
                except BadgeError:
                    continue
                awarded += got
                continue
            if (
                badges is not None
                and badge_id not in badges
                and not _needs_any(by_badge, badge_id, badges)
            ):
                continue
            badge_rules = by_badge[badge_id]
            policy = policies.get(badge_id, AwardPolicy(badge_id))
            ranked = any(r.kind is RuleKind.TOP_ACTIVE for r in badge_rules)
            if ranked and (scope is not None or not (rotate or rotation_due(policy, now))):
                continue
            try:
                got, lost = await self._evaluate_badge(
                    guild_id,
                    badge_id,
                    badge_rules,
                    policy,
                    scope,
                    now,
                    names,
                    replaced_by(rules, badge_id),
                    stepped_down,
                )
            except BadgeNotFound:
                continue  # deleted meanwhile
            except BadgeError as error:  # a role that gained power, an inactive badge, ...
                refused[badge_id] = error.message
                log.warning("automatic badge %s of guild %s: %s", badge_id, guild_id, error)
                continue
            if ranked:
                await self._rotated(guild_id, policy, now)
            evaluated += 1
            awarded += got
            revoked += lost
        return EvaluationReport(awarded, revoked, evaluated, refused)

    async def _evaluate_badge(
        self,
        guild_id: int,
        badge_id: str,
        rules: Sequence[Rule],
        policy: AwardPolicy,
        scope: set[int] | None,
        now: datetime,
        names: dict[str, str],
        replacers: Collection[str] = (),
        stepped_down: dict[str, set[int]] | None = None,
    ) -> tuple[int, int]:
        async with self._core.read() as uow:
            badge = await uow.badges.get(guild_id, badge_id)
            if badge is None:
                raise BadgeNotFound()
            if not badge.is_active:
                return 0, 0
            qualified = await self._qualified(uow, guild_id, badge_id, rules, scope, now)
            for higher in replacers:  # a badge replaced by a higher one is not given back
                qualified -= await uow.awards.holding(guild_id, higher, sorted(qualified))
            if scope is None:
                holders = await uow.awards.holder_ids(guild_id, badge_id)
            else:
                holders = await uow.awards.holding(guild_id, badge_id, sorted(scope))
            automatic = (
                await uow.awards.holder_ids_by(
                    guild_id, badge_id, AUTOMATIC_ID, sorted(scope) if scope is not None else None
                )
                if policy.auto_revoke
                else set()
            )
        to_award, to_revoke = plan(
            qualified, holders, automatic, auto_revoke=policy.auto_revoke, scope=scope
        )
        said = "; ".join(describe(r, names) for r in rules)
        reason = clip(f"Automatic: {said}", 500)
        got = await self._awards.grant_automatic(guild_id, badge_id, to_award, reason)
        lost: list[int] = []
        if to_revoke:
            why = clip(
                "Automatic: no longer meets " + "; ".join(describe(r, names) for r in rules), 500
            )
            lost = await self._awards.withdraw_automatic(guild_id, badge_id, to_revoke, why)
        for rule in rules:
            if rule.kind is not RuleKind.HOLDS_BADGE or not rule.replaces:
                continue
            assert rule.required_badge_id is not None
            if got:
                await self._awards.withdraw_automatic(
                    guild_id,
                    rule.required_badge_id,
                    got,
                    clip(f"Replaced by {badge.name}", 500),
                    only_automatic=False,
                )
            if lost and stepped_down is not None:  # they may hold the lower badge again
                stepped_down.setdefault(rule.required_badge_id, set()).update(lost)
        return len(got), len(lost)

    async def _qualified(
        self,
        uow: UnitOfWork,
        guild_id: int,
        badge_id: str,
        rules: Sequence[Rule],
        scope: set[int] | None,
        now: datetime,
    ) -> set[int]:
        """Members who meet every rule (within ``scope`` if given)."""
        today = day_number(now)
        qualified: set[int] | None = None
        ids = sorted(scope) if scope is not None else None
        # the cheapest, most selective rules first: later ones only check those left
        for rule in sorted(rules, key=lambda r: _COST[r.kind]):
            if qualified is not None and not qualified:
                return set()
            within = sorted(qualified) if qualified is not None else ids
            met = await self._meeting(uow, guild_id, badge_id, rule, within, today, now)
            qualified = met if qualified is None else qualified & met
        if not qualified:
            return set()
        # only members the bot has seen as people (not bots, webhooks, or members who left)
        return set(await uow.activity.records(guild_id, sorted(qualified)))

    async def _meeting(
        self,
        uow: UnitOfWork,
        guild_id: int,
        badge_id: str,
        rule: Rule,
        within: Sequence[int] | None,
        today: int,
        now: datetime,
    ) -> set[int]:
        match rule.kind:
            case RuleKind.TOP_ACTIVE:
                top = await uow.activity.top(
                    guild_id,
                    rule.weights,
                    since_day=window_start(today, rule.window_days),
                    excluded=rule.excluded_channel_ids,
                    paced=rule.cooldown,
                    limit=rule.threshold,
                )
                found = {uid for uid, _ in top}
                return found if within is None else found & set(within)
            case RuleKind.TENURE_DAYS | RuleKind.BOOST_DAYS:
                records = await uow.activity.records(guild_id, within)
                return {
                    uid
                    for uid, record in records.items()
                    if (days := days_of(rule.kind, record, now)) is not None
                    and days >= rule.threshold
                }
            case RuleKind.HOLDS_BADGE:
                assert rule.required_badge_id is not None
                if within is None:
                    found = await uow.awards.holder_ids(guild_id, rule.required_badge_id)
                    if rule.replaces:  # those who hold this badge already replaced it
                        found |= await uow.awards.holder_ids(guild_id, badge_id)
                    return found
                found = await uow.awards.holding(guild_id, rule.required_badge_id, within)
                if rule.replaces:
                    found |= await uow.awards.holding(guild_id, badge_id, within)
                return found
            case _:
                totals = await uow.activity.totals(
                    guild_id,
                    rule.weights_used,
                    since_day=window_start(today, rule.window_days),
                    excluded=rule.excluded_channel_ids,
                    paced=rule.cooldown,
                    user_ids=within,
                    at_least=rule.threshold,
                )
                return set(totals)

    async def _rotated(self, guild_id: int, policy: AwardPolicy, now: datetime) -> None:
        async with self._core.write() as tx:
            current = await tx.uow.policies.get(guild_id, policy.badge_id)
            await tx.uow.policies.save(guild_id, replace(current, rotated_at=now))


_COST = {
    RuleKind.HOLDS_BADGE: 0,
    RuleKind.TENURE_DAYS: 1,
    RuleKind.BOOST_DAYS: 1,
    RuleKind.TOP_ACTIVE: 2,
    RuleKind.MESSAGES: 3,
    RuleKind.REACTIONS: 3,
    RuleKind.VOICE_MINUTES: 3,
}


def days_of(kind: RuleKind, record: MemberRecord | None, now: datetime) -> int | None:
    if record is None:
        return None
    since = record.joined_at if kind is RuleKind.TENURE_DAYS else record.boosting_since
    if since is None:
        return None
    return max(0, (now - since) // timedelta(days=1))


_AGAIN = "again:"


def _lowers_last(rules: Sequence[Rule]) -> list[str]:
    """Markers, after every badge was evaluated, for the lower badges of chains, highest
    first: members who lost a higher badge may qualify for them again."""
    lowers = [r.required_badge_id for r in rules if r.replaces and r.required_badge_id]
    order = chain_order(rules)
    ranked = sorted(set(lowers), key=lambda b: order.index(b) if b in order else -1, reverse=True)
    return [_AGAIN + b for b in ranked]


def replaced_by(rules: Sequence[Rule], badge_id: str) -> set[str]:
    """Badges that replace ``badge_id`` when earned, at any height of the chain."""
    found: set[str] = set()
    stack = [badge_id]
    while stack:
        current = stack.pop()
        for rule in rules:
            if rule.replaces and rule.required_badge_id == current and rule.badge_id not in found:
                found.add(rule.badge_id)
                stack.append(rule.badge_id)
    return found


def _needs_any(by_badge: dict[str, list[Rule]], badge_id: str, wanted: Collection[str]) -> bool:
    """Whether the badge requires, at any depth, one of ``wanted`` (so it follows them)."""
    stack = [badge_id]
    seen: set[str] = set()
    while stack:
        current = stack.pop()
        for rule in by_badge.get(current, ()):
            required = rule.required_badge_id
            if required is None or required in seen:
                continue
            if required in wanted:
                return True
            seen.add(required)
            stack.append(required)
    return False
