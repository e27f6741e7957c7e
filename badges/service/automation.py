"""Automatic badges and award policies: rules are added and removed here, and evaluated
(incrementally for members whose activity changed, and in periodic passes that are
retroactive over everything counted so far). Awards go through ``Awards`` like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from badges import validation
from badges.automation import (
    AUTOMATIC_ID,
    Awarders,
    AwardPolicy,
    BadgeProgress,
    EvaluationReport,
    MemberRecord,
    Rule,
    RuleDraft,
    RuleKind,
    RuleProgress,
    chain_order,
    check_chain,
    check_draft,
    check_policy,
    check_rules_of_badge,
    day_number,
    describe,
    plan,
    rotation_due,
    window_start,
)
from badges.errors import BadgeError, BadgeNotFound, Forbidden, InvalidInput, RuleNotFound, clip
from badges.model import Badge, EventKind
from badges.permissions import Actor, Level, Operation, authorize
from badges.ports import UnitOfWork
from badges.service.awards import POWER_NOT_AUTOMATIC, Awards
from badges.service.core import ServiceCore
from badges.service.role_links import RoleLinks

log = logging.getLogger("badges.automation")

_UNSET: object = object()


@dataclass(frozen=True, slots=True)
class RuleAdded:
    rule: Rule
    report: EvaluationReport
    """The retroactive evaluation run at once: who already qualified got the badge."""


class Automation:
    """service.rules: who may give a badge, and the rules that award it by themselves."""

    def __init__(self, core: ServiceCore, awards: Awards, roles: RoleLinks) -> None:
        self._core = core
        self._awards = awards
        self._roles = roles

    # -- rules ---------------------------------------------------------------------------

    async def add(self, actor: Actor, guild_id: int, badge_id: str, draft: RuleDraft) -> RuleAdded:
        """Attach a rule to the badge and evaluate it over every member counted so far."""
        authorize(actor, Operation.MANAGE_RULES)
        async with self._core.write() as tx:
            badge = await tx.badge(guild_id, badge_id)
            draft = check_draft(draft, badge.id)
            if await self._roles.power_of(badge):
                raise Forbidden(POWER_NOT_AUTOMATIC, required=Level.SUPER_ADMIN)
            await tx.uow.lock(guild_id)  # chains are checked against all rules of the guild
            existing = await tx.uow.rules.of_guild(guild_id)
            check_rules_of_badge([r for r in existing if r.badge_id == badge.id], draft)
            if draft.required_badge_id is not None:
                try:  # locked: it cannot be deleted until this rule is in
                    required = await tx.badge(guild_id, draft.required_badge_id)
                except BadgeNotFound:
                    raise InvalidInput(
                        "required_badge", "The required badge does not exist."
                    ) from None
                check_chain(existing, badge.id, required.id)
            rule = await tx.uow.rules.add(
                guild_id, badge.id, draft, actor.user_id, self._core.clock()
            )
            names = await self._names(tx.uow, guild_id)
            tx.record(
                self._core.event(
                    actor,
                    EventKind.RULES_CHANGED,
                    badge,
                    after={"rule_id": rule.id, "rule": describe(rule, names)},
                )
            )
        try:
            report = await self.evaluate(guild_id, badges={badge.id}, rotate=True)
        except Exception:  # the rule is in; the next periodic pass evaluates it
            log.exception("evaluating the new rule %s of guild %s failed", rule.id, guild_id)
            report = EvaluationReport(
                refused={badge.id: "Checking members now failed: the next periodic pass will."}
            )
        return RuleAdded(rule, report)

    async def remove(self, actor: Actor, guild_id: int, badge_id: str, rule_id: int) -> Rule:
        """Remove a rule. Awards it made stay (auto-revoke takes back only what no longer
        qualifies under the rules that remain)."""
        authorize(actor, Operation.MANAGE_RULES)
        async with self._core.write() as tx:
            badge = await tx.badge(guild_id, badge_id)
            rules = await tx.uow.rules.of_badge(guild_id, badge.id)
            if rule_id not in {r.id for r in rules}:
                raise RuleNotFound(f"'{clip(badge.name)}' has no rule #{rule_id}.")
            rule = await tx.uow.rules.remove(guild_id, rule_id)
            assert rule is not None
            names = await self._names(tx.uow, guild_id)
            tx.record(
                self._core.event(
                    actor,
                    EventKind.RULES_CHANGED,
                    badge,
                    before={"rule_id": rule.id, "rule": describe(rule, names)},
                )
            )
        return rule

    async def of_badge(self, guild_id: int, badge_id: str) -> tuple[Badge, list[Rule]]:
        async with self._core.read() as uow:
            badge = await uow.badges.get(guild_id, badge_id)
            if badge is None:
                raise BadgeNotFound()
            return badge, await uow.rules.of_badge(guild_id, badge.id)

    async def of_guild(self, guild_id: int) -> list[Rule]:
        async with self._core.read() as uow:
            return await uow.rules.of_guild(guild_id)

    async def names(self, guild_id: int) -> dict[str, str]:
        async with self._core.read() as uow:
            return await self._names(uow, guild_id)

    @staticmethod
    async def _names(uow: UnitOfWork, guild_id: int) -> dict[str, str]:
        return {badge_id: name for name, badge_id in await _id_names(uow, guild_id)}

    # -- policy --------------------------------------------------------------------------

    async def policy(self, guild_id: int, badge_id: str) -> tuple[Badge, AwardPolicy]:
        async with self._core.read() as uow:
            badge = await uow.badges.get(guild_id, badge_id)
            if badge is None:
                raise BadgeNotFound()
            return badge, await uow.policies.get(guild_id, badge.id)

    async def policies(self, guild_id: int) -> dict[str, AwardPolicy]:
        """Badges of the guild whose policy differs from the default."""
        async with self._core.read() as uow:
            return await uow.policies.of_guild(guild_id)

    async def givable(self, guild_id: int) -> dict[str, AwardPolicy]:
        """Active badges members (some or all) may give, by slug, with their policy."""
        async with self._core.read() as uow:
            policies = await uow.policies.of_guild(guild_id)
            found: dict[str, AwardPolicy] = {}
            for badge_id, policy in policies.items():
                if policy.awarders is Awarders.MODERATORS:
                    continue
                badge = await uow.badges.get(guild_id, badge_id)
                if badge is not None and badge.is_active:
                    found[badge.slug] = policy
            return found

    async def set_policy(
        self,
        actor: Actor,
        guild_id: int,
        badge_id: str,
        *,
        awarders: Awarders | object = _UNSET,
        role_id: int | object | None = _UNSET,
        per_day: int | object | None = _UNSET,
        self_award: bool | object = _UNSET,
        auto_revoke: bool | object = _UNSET,
        rotation_hours: int | object = _UNSET,
    ) -> AwardPolicy:
        """Change who may award the badge, or what its rules do when a member no longer
        qualifies. Fields left out keep their value."""
        authorize(actor, Operation.MANAGE_RULES)
        if isinstance(role_id, int):
            validation.snowflake("role", role_id)
        async with self._core.write() as tx:
            badge = await tx.badge(guild_id, badge_id)
            before = await tx.uow.policies.get(guild_id, badge.id)
            changes = {
                name: value
                for name, value in (
                    ("awarders", awarders),
                    ("role_id", role_id),
                    ("per_day", per_day),
                    ("self_award", self_award),
                    ("auto_revoke", auto_revoke),
                    ("rotation_hours", rotation_hours),
                )
                if value is not _UNSET
            }
            if "awarders" in changes and changes["awarders"] is not Awarders.ROLE:
                changes.setdefault("role_id", None)
            if changes.get("awarders") is Awarders.MEMBERS:
                changes.setdefault("self_award", False)
            after = check_policy(replace(before, **changes))  # type: ignore[arg-type]
            if after.role_id is not None and after.role_id != before.role_id:
                await self._check_role(guild_id, after.role_id)
            await tx.uow.policies.save(guild_id, after)
            tx.record(
                self._core.event(
                    actor,
                    EventKind.POLICY_CHANGED,
                    badge,
                    before=_policy_fields(before),
                    after=_policy_fields(after),
                )
            )
        return after

    async def _check_role(self, guild_id: int, role_id: int) -> None:
        directory = self._core.directory
        if await directory.guild(guild_id) is None:
            return  # this process cannot tell (the REST API): Discord decides later
        role = await directory.role(guild_id, role_id)
        if role is None:
            raise InvalidInput("role", "That role does not exist in this server.")
        if role.is_everyone:
            raise InvalidInput("role", "Use awarders:members to let everyone give a badge.")

    # -- evaluation ----------------------------------------------------------------------

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
            names = await self._names(uow, guild_id)
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
                    if (days := _days(rule.kind, record, now)) is not None
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

    async def guilds(self) -> list[int]:
        """Guilds with automatic badges."""
        async with self._core.read() as uow:
            return await uow.rules.guilds()

    # -- what members see ----------------------------------------------------------------

    async def progress(
        self, guild_id: int, user_id: int, badge_id: str | None = None
    ) -> list[BadgeProgress]:
        """How far the member is from each automatic badge (or one)."""
        now = self._core.clock()
        today = day_number(now)
        async with self._core.read() as uow:
            rules = await uow.rules.of_guild(guild_id)
            if badge_id is not None:
                badge = await uow.badges.get(guild_id, badge_id)
                if badge is None:
                    raise BadgeNotFound()
                rules = [r for r in rules if r.badge_id == badge.id]
            held = await uow.awards.badge_ids_of(guild_id, user_id)
            names = await self._names(uow, guild_id)
            record = (await uow.activity.records(guild_id, [user_id])).get(user_id)
            out: dict[str, list[RuleProgress]] = {}
            for rule in rules:
                out.setdefault(rule.badge_id, []).append(
                    await self._rule_progress(uow, rule, user_id, held, record, today, now)
                )
        return [
            BadgeProgress(bid, names.get(bid, "?"), bid in held, items)
            for bid, items in out.items()
        ]

    async def _rule_progress(
        self,
        uow: UnitOfWork,
        rule: Rule,
        user_id: int,
        held: set[str],
        record: MemberRecord | None,
        today: int,
        now: datetime,
    ) -> RuleProgress:
        since = window_start(today, rule.window_days)
        match rule.kind:
            case RuleKind.HOLDS_BADGE:
                has = rule.required_badge_id in held or (rule.replaces and rule.badge_id in held)
                return RuleProgress(rule, float(has), 1.0, has)
            case RuleKind.TENURE_DAYS | RuleKind.BOOST_DAYS:
                days = _days(rule.kind, record, now) if record else None
                value = float(days or 0)
                return RuleProgress(rule, value, float(rule.threshold), value >= rule.threshold)
        totals = await uow.activity.totals(
            rule.guild_id,
            rule.weights_used,
            since_day=since,
            excluded=rule.excluded_channel_ids,
            paced=rule.cooldown,
            user_ids=[user_id],
        )
        mine = totals.get(user_id, 0.0)
        if rule.kind is not RuleKind.TOP_ACTIVE:
            return RuleProgress(rule, mine, float(rule.threshold), mine >= rule.threshold)
        top = await uow.activity.top(
            rule.guild_id,
            rule.weights,
            since_day=since,
            excluded=rule.excluded_channel_ids,
            paced=rule.cooldown,
            limit=rule.threshold,
        )
        cut = top[-1][1] if len(top) >= rule.threshold else (1.0 if not top else top[-1][1])
        rank = None
        if mine > 0:
            rank = 1 + await uow.activity.ahead_of(
                rule.guild_id,
                rule.weights,
                since_day=since,
                excluded=rule.excluded_channel_ids,
                paced=rule.cooldown,
                score=mine,
                user_id=user_id,
            )
        in_top = any(uid == user_id for uid, _ in top)
        return RuleProgress(rule, mine, max(cut, 1.0), in_top, rank)


_COST = {
    RuleKind.HOLDS_BADGE: 0,
    RuleKind.TENURE_DAYS: 1,
    RuleKind.BOOST_DAYS: 1,
    RuleKind.TOP_ACTIVE: 2,
    RuleKind.MESSAGES: 3,
    RuleKind.REACTIONS: 3,
    RuleKind.VOICE_MINUTES: 3,
}


def _days(kind: RuleKind, record: MemberRecord | None, now: datetime) -> int | None:
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


def _policy_fields(policy: AwardPolicy) -> dict[str, object]:
    return {
        "awarders": policy.awarders.value,
        "role_id": str(policy.role_id) if policy.role_id is not None else None,
        "per_day": policy.per_day,
        "self_award": policy.self_award,
        "auto_revoke": policy.auto_revoke,
        "rotation_hours": policy.rotation_hours,
    }


async def _id_names(uow: UnitOfWork, guild_id: int) -> list[tuple[str, str]]:
    """(name, id) of the guild's badges."""
    return [(name, bid) for name, bid in await uow.badges.id_names(guild_id)]
