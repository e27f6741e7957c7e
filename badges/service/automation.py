"""service.rules: the rules of automatic badges and who may award a badge, as admins set
them, and how far a member is from each automatic badge. Deciding who earns them is
``badges.service.evaluation``; awards go through ``Awards`` like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from badges import validation
from badges.automation import (
    Awarders,
    AwardPolicy,
    BadgeProgress,
    EvaluationReport,
    MemberRecord,
    Rule,
    RuleDraft,
    RuleKind,
    RuleProgress,
    check_chain,
    check_draft,
    check_policy,
    check_rules_of_badge,
    day_number,
    describe,
    window_start,
)
from badges.errors import BadgeNotFound, Forbidden, InvalidInput, RuleNotFound, clip
from badges.model import Badge, EventKind
from badges.permissions import Actor, Level, Operation, authorize
from badges.ports import UnitOfWork
from badges.service.awards import POWER_NOT_AUTOMATIC, Awards
from badges.service.core import ServiceCore, badge_names
from badges.service.evaluation import Evaluation, days_of
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
        self._evaluation = Evaluation(core, awards)

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
            names = await badge_names(tx.uow, guild_id)
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
            names = await badge_names(tx.uow, guild_id)
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
            return await badge_names(uow, guild_id)

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
        """Award (and with auto-revoke, take back) automatic badges; see ``Evaluation``."""
        return await self._evaluation.evaluate(
            guild_id, members=members, badges=badges, rotate=rotate
        )

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
            names = await badge_names(uow, guild_id)
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
                days = days_of(rule.kind, record, now) if record else None
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


def _policy_fields(policy: AwardPolicy) -> dict[str, object]:
    return {
        "awarders": policy.awarders.value,
        "role_id": str(policy.role_id) if policy.role_id is not None else None,
        "per_day": policy.per_day,
        "self_award": policy.self_award,
        "auto_revoke": policy.auto_revoke,
        "rotation_hours": policy.rotation_hours,
    }
