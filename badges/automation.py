"""Badges that award themselves, and who may give a badge: rules, policies and the pure
decisions made from them. No storage and no Discord here.

A badge may carry up to ``MAX_RULES`` rules; a member qualifies when every rule holds. The
numbers a rule is checked against (a member's activity, tenure, badges) are read by the
service; what to award and what to take back is decided here.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from badges.errors import InvalidInput

MAX_RULES = 10
MAX_EXCLUDED = 25
MAX_WINDOW = 365
MAX_TOP = 100
MAX_THRESHOLD = 10_000_000
MAX_DAYS = 10_000
MAX_WEIGHT = 100.0
MAX_CHAIN = 10
COOLDOWN_SECONDS = 60
"""With a rule's cooldown on, a member's messages count at most once a minute."""
DEFAULT_TOP_WINDOW = 30
AUTOMATIC_ID = 1
"""The ``awarded_by_id`` of awards made by rules (no Discord id is this small)."""
AUTOMATIC_NAME = "Automatic"


class RuleKind(StrEnum):
    MESSAGES = "messages"
    REACTIONS = "reactions"
    VOICE_MINUTES = "voice_minutes"
    TENURE_DAYS = "tenure_days"
    BOOST_DAYS = "boost_days"
    HOLDS_BADGE = "holds_badge"
    TOP_ACTIVE = "top_active"

    @property
    def label(self) -> str:
        """How people call it: "a 'top N most active' rule"."""
        return _LABELS[self]

    @property
    def counts_activity(self) -> bool:
        return self in ACTIVITY_KINDS or self is RuleKind.TOP_ACTIVE


_LABELS = {
    RuleKind.MESSAGES: "messages",
    RuleKind.REACTIONS: "reactions received",
    RuleKind.VOICE_MINUTES: "minutes in voice",
    RuleKind.TENURE_DAYS: "days in the server",
    RuleKind.BOOST_DAYS: "days boosting",
    RuleKind.HOLDS_BADGE: "holds another badge",
    RuleKind.TOP_ACTIVE: "top N most active",
}
ACTIVITY_KINDS = frozenset({RuleKind.MESSAGES, RuleKind.REACTIONS, RuleKind.VOICE_MINUTES})


@dataclass(frozen=True, slots=True)
class Weights:
    """How much one message, one reaction received and one minute in voice count."""

    messages: float = 1.0
    reactions: float = 0.0
    voice_minutes: float = 0.0


@dataclass(frozen=True, slots=True)
class RuleDraft:
    """A rule as an admin asks for it, before it is checked."""

    kind: RuleKind
    threshold: int
    window_days: int | None = None
    excluded_channel_ids: frozenset[int] = frozenset()
    cooldown: bool = False
    weights: Weights = field(default_factory=Weights)
    required_badge_id: str | None = None
    replaces: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    guild_id: int
    badge_id: str
    kind: RuleKind
    threshold: int
    window_days: int | None
    excluded_channel_ids: frozenset[int]
    cooldown: bool
    weights: Weights
    required_badge_id: str | None
    replaces: bool
    created_by: int
    created_at: datetime

    @property
    def weights_used(self) -> Weights:
        """What one unit of each activity counts for this rule."""
        if self.kind is RuleKind.TOP_ACTIVE:
            return self.weights
        return Weights(
            messages=1.0 if self.kind is RuleKind.MESSAGES else 0.0,
            reactions=1.0 if self.kind is RuleKind.REACTIONS else 0.0,
            voice_minutes=1.0 if self.kind is RuleKind.VOICE_MINUTES else 0.0,
        )


class Awarders(StrEnum):
    MODERATORS = "moderators"
    """Only the Moderator level and above (the default)."""
    ROLE = "role"
    """Moderators, and members with the policy's role."""
    MEMBERS = "members"
    """Any member, as a gift: never to themselves, once per giver and recipient."""


@dataclass(frozen=True, slots=True)
class AwardPolicy:
    """Who may award a badge, and what automatic rules do when a member stops qualifying."""

    badge_id: str
    awarders: Awarders = Awarders.MODERATORS
    role_id: int | None = None
    per_day: int | None = None
    """At most this many awards a day by each giver below the Moderator level."""
    self_award: bool = False
    auto_revoke: bool = False
    rotation_hours: int = 24
    """Top-N badges are re-ranked this often (and auto-revoked then)."""
    rotated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Gift:
    """One member giving a badge to another (a members' badge can be given by many)."""

    guild_id: int
    badge_id: str
    giver_id: int
    giver_name: str
    recipient_id: int
    reason: str | None
    given_at: datetime


@dataclass(frozen=True, slots=True)
class GiftSummary:
    count: int
    latest: Gift


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """What the bot has seen of a member: when they joined and since when they boost."""

    guild_id: int
    user_id: int
    joined_at: datetime | None
    boosting_since: datetime | None


@dataclass(frozen=True, slots=True)
class RuleProgress:
    rule: Rule
    value: float
    target: float
    met: bool
    rank: int | None = None
    """For a top-N rule: the member's place (1 is first), or None without activity."""


@dataclass(frozen=True, slots=True)
class BadgeProgress:
    badge_id: str
    badge_name: str
    held: bool
    rules: list[RuleProgress]


@dataclass(frozen=True, slots=True)
class Standing:
    user_id: int
    score: float


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """What one evaluation did."""

    awarded: int = 0
    revoked: int = 0
    badges: int = 0
    refused: dict[str, str] = field(default_factory=dict)
    """Badges that could not be awarded automatically, with why (for example a role that
    gained permissions)."""


# -- checking what admins ask for ------------------------------------------------------------


def check_draft(draft: RuleDraft, badge_id: str) -> RuleDraft:
    """The draft, or InvalidInput naming the field and what is wrong."""
    kind = draft.kind
    low, high, unit = _threshold_range(kind)
    if not low <= draft.threshold <= high:
        raise InvalidInput(
            "threshold", f"The threshold of a '{kind.label}' rule is {unit} {low}-{high}."
        )
    if draft.window_days is not None:
        if not kind.counts_activity:
            raise InvalidInput("window_days", f"A '{kind.label}' rule has no window.")
        if not 1 <= draft.window_days <= MAX_WINDOW:
            raise InvalidInput("window_days", f"The window is 1-{MAX_WINDOW} days.")
    if draft.excluded_channel_ids:
        if not kind.counts_activity:
            raise InvalidInput("excluded_channels", f"A '{kind.label}' rule counts no channels.")
        if len(draft.excluded_channel_ids) > MAX_EXCLUDED:
            raise InvalidInput(
                "excluded_channels", f"At most {MAX_EXCLUDED} channels can be excluded."
            )
        if any(not 0 < c < 2**63 for c in draft.excluded_channel_ids):
            raise InvalidInput("excluded_channels", "A channel id is not a Discord id.")
    if draft.cooldown and kind not in (RuleKind.MESSAGES, RuleKind.TOP_ACTIVE):
        raise InvalidInput("cooldown", "Only rules that count messages have a cooldown.")
    if draft.weights != Weights() and kind is not RuleKind.TOP_ACTIVE:
        raise InvalidInput("weights", "Only a top-active rule weighs reactions and voice.")
    for name in ("messages", "reactions", "voice_minutes"):
        value = getattr(draft.weights, name)
        if not (math.isfinite(value) and 0 <= value <= MAX_WEIGHT):
            raise InvalidInput("weights", f"A weight is between 0 and {MAX_WEIGHT:g}.")
    if kind is RuleKind.TOP_ACTIVE and not any(
        (draft.weights.messages, draft.weights.reactions, draft.weights.voice_minutes)
    ):
        raise InvalidInput("weights", "At least one kind of activity must count.")
    if kind is RuleKind.HOLDS_BADGE:
        if draft.required_badge_id is None:
            raise InvalidInput("required_badge", "Name the badge a member must hold.")
        if draft.required_badge_id == badge_id:
            raise InvalidInput("required_badge", "A badge cannot require itself.")
    elif draft.required_badge_id is not None or draft.replaces:
        raise InvalidInput("required_badge", "Only a holds-badge rule requires another badge.")
    if kind is RuleKind.TOP_ACTIVE and draft.window_days is None:
        return _with_window(draft, DEFAULT_TOP_WINDOW)
    return draft


def _with_window(draft: RuleDraft, days: int) -> RuleDraft:
    return RuleDraft(
        kind=draft.kind,
        threshold=draft.threshold,
        window_days=days,
        excluded_channel_ids=draft.excluded_channel_ids,
        cooldown=draft.cooldown,
        weights=draft.weights,
        required_badge_id=draft.required_badge_id,
        replaces=draft.replaces,
    )


def _threshold_range(kind: RuleKind) -> tuple[int, int, str]:
    if kind is RuleKind.TOP_ACTIVE:
        return 1, MAX_TOP, "a number of members,"
    if kind in (RuleKind.TENURE_DAYS, RuleKind.BOOST_DAYS):
        return 1, MAX_DAYS, "days,"
    if kind is RuleKind.HOLDS_BADGE:
        return 1, 1, "always"
    return 1, MAX_THRESHOLD, "a count,"


def check_rules_of_badge(existing: Collection[Rule], draft: RuleDraft) -> None:
    """Refuse a rule that does not fit beside the badge's others."""
    if len(existing) >= MAX_RULES:
        raise InvalidInput("rule", f"A badge has at most {MAX_RULES} rules.")
    if draft.kind is RuleKind.TOP_ACTIVE and any(r.kind is RuleKind.TOP_ACTIVE for r in existing):
        raise InvalidInput("kind", "A badge has at most one top-active rule.")
    if draft.kind is RuleKind.HOLDS_BADGE and any(
        r.required_badge_id == draft.required_badge_id for r in existing
    ):
        raise InvalidInput("required_badge", "The badge already requires that badge.")


def requirements(rules: Iterable[Rule]) -> dict[str, set[str]]:
    """badge id -> the badges it requires (holds-badge rules)."""
    needs: dict[str, set[str]] = {}
    for rule in rules:
        needs.setdefault(rule.badge_id, set())
        if rule.required_badge_id is not None:
            needs[rule.badge_id].add(rule.required_badge_id)
    return needs


def check_chain(rules: Iterable[Rule], badge_id: str, required_badge_id: str) -> None:
    """Refuse a requirement that would close a loop (gold needs silver needs gold), or make
    a chain longer than ``MAX_CHAIN``."""
    needs = requirements(rules)
    needs.setdefault(badge_id, set()).add(required_badge_id)
    seen: set[str] = set()
    stack = [(required_badge_id, 1)]
    while stack:
        current, depth = stack.pop()
        if current == badge_id:
            raise InvalidInput("required_badge", "That would make a loop of required badges.")
        if depth > MAX_CHAIN:
            raise InvalidInput("required_badge", f"A chain has at most {MAX_CHAIN} badges.")
        if current in seen:
            continue
        seen.add(current)
        stack.extend((n, depth + 1) for n in needs.get(current, ()))


def check_policy(policy: AwardPolicy) -> AwardPolicy:
    if policy.awarders is Awarders.ROLE:
        if policy.role_id is None:
            raise InvalidInput("role", "Name the role whose members may award the badge.")
    elif policy.role_id is not None:
        raise InvalidInput("role", "A role is only used with awarders:role.")
    if policy.per_day is not None and not 1 <= policy.per_day <= 1000:
        raise InvalidInput("per_day", "The daily limit is 1-1000 awards per giver.")
    if policy.self_award and policy.awarders is Awarders.MEMBERS:
        raise InvalidInput(
            "self_award", "A badge members give each other can never be given to oneself."
        )
    if not 1 <= policy.rotation_hours <= 24 * 90:
        raise InvalidInput("rotation_hours", "Top badges are re-ranked every 1-2160 hours.")
    return policy


# -- deciding --------------------------------------------------------------------------------


def chain_order(rules: Iterable[Rule]) -> list[str]:
    """Badge ids with rules, each after the badges it requires (bronze, silver, gold)."""
    needs = requirements(rules)
    order: list[str] = []
    placed: set[str] = set()

    def place(badge_id: str, depth: int) -> None:
        if badge_id in placed or depth > MAX_CHAIN + 1:
            return
        for required in sorted(needs.get(badge_id, ())):
            place(required, depth + 1)
        placed.add(badge_id)
        if badge_id in needs:
            order.append(badge_id)

    for badge_id in sorted(needs):
        place(badge_id, 0)
    return order


def meets(rule: Rule, value: float) -> bool:
    """Whether a member's number meets a threshold rule (not top-N: ranks decide those)."""
    return value >= rule.threshold


def plan(
    qualified: set[int],
    holders: set[int],
    automatic_holders: set[int],
    *,
    auto_revoke: bool,
    scope: set[int] | None = None,
) -> tuple[set[int], set[int]]:
    """(award, revoke): members who qualify and lack the badge; with auto-revoke, members who
    hold it from a rule and no longer qualify. Awards made by hand are never taken back.
    ``scope`` limits the decision to some members (an incremental evaluation)."""
    award = qualified - holders
    revoke = (automatic_holders - qualified) if auto_revoke else set()
    if scope is not None:
        award &= scope
        revoke &= scope
    return award, revoke


def rotation_due(policy: AwardPolicy, now: datetime) -> bool:
    if policy.rotated_at is None:
        return True
    return (now - policy.rotated_at).total_seconds() >= policy.rotation_hours * 3600


def day_number(when: datetime | date) -> int:
    """Days since 1970-01-01 (UTC): the key of per-day activity counts."""
    day = when.date() if isinstance(when, datetime) else when
    return day.toordinal() - EPOCH_ORDINAL


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
ROLLED_UP_DAY = 0
"""The day of rolled-up counts: everything older than the longest window, summed."""


def window_start(today: int, window_days: int | None) -> int | None:
    """The first day counted by a window ending today; None counts everything."""
    return None if window_days is None else today - window_days + 1


def describe(rule: Rule, badge_names: Mapping[str, str] | None = None) -> str:
    """The rule in a line: "500 messages in 30 days, cooldown, not in 2 channels"."""
    window = f" in {rule.window_days} days" if rule.window_days else ""
    extra = ""
    if rule.cooldown:
        extra += ", at most one message a minute"
    if rule.excluded_channel_ids:
        n = len(rule.excluded_channel_ids)
        extra += f", not counting {n} channel{'s' if n != 1 else ''}"
    match rule.kind:
        case RuleKind.MESSAGES:
            text = f"{rule.threshold:,} messages{window}"
        case RuleKind.REACTIONS:
            text = f"{rule.threshold:,} reactions received{window}"
        case RuleKind.VOICE_MINUTES:
            text = f"{rule.threshold:,} minutes in voice{window}"
        case RuleKind.TENURE_DAYS:
            text = f"a member for {rule.threshold:,} days"
        case RuleKind.BOOST_DAYS:
            text = f"boosting for {rule.threshold:,} days"
        case RuleKind.HOLDS_BADGE:
            name = (badge_names or {}).get(rule.required_badge_id or "", "another badge")
            text = f"holds {name}" + (" (replaced)" if rule.replaces else "")
        case RuleKind.TOP_ACTIVE:
            w = rule.weights
            parts = [
                f"{label} x{value:g}"
                for label, value in (
                    ("messages", w.messages),
                    ("reactions", w.reactions),
                    ("voice minutes", w.voice_minutes),
                )
                if value
            ]
            text = f"top {rule.threshold} most active{window} ({', '.join(parts)})"
    return text + extra
