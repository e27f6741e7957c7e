"""The JSON shapes of the REST API, as the badges reference names them (camelCase).

Requests are validated by these models. Responses are built by ``api.present`` as plain
dicts (fast) and described here for the OpenAPI document; the schema tests check that every
response matches its model. Snowflake ids are strings: they exceed JavaScript's safe integers.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from badges.automation import (
    MAX_DAYS,
    MAX_EXCLUDED,
    MAX_THRESHOLD,
    MAX_WEIGHT,
    MAX_WINDOW,
    Awarders,
    RuleKind,
)

SNOWFLAKE = r"^[1-9][0-9]{0,19}$"
BADGE_ID_EXAMPLE = "6f1c9a52-3f0e-4c1b-9a7e-2b4d8e0c5a11"
USER_ID_EXAMPLE = "80351110224678912"
STAMP = "2026-12-01T18:30:00.123456Z"


def _config(example: dict[str, Any], *, forbid: bool = False) -> ConfigDict:
    return ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid" if forbid else "ignore",
        json_schema_extra={"examples": [example]},
    )


BADGE_EXAMPLE: dict[str, Any] = {
    "id": BADGE_ID_EXAMPLE,
    "name": "Early Adopter",
    "slug": "early-adopter",
    "description": "Joined during beta",
    "icon": "https://cdn.example.com/early.png",
    "iconUrl": "https://cdn.example.com/early.png",
    "color": "#FF5733",
    "isActive": True,
    "awardedCount": 150,
    "roleId": None,
    "createdAt": STAMP,
    "updatedAt": STAMP,
}


class Badge(BaseModel):
    model_config = _config(BADGE_EXAMPLE)

    id: str
    name: str
    slug: str
    description: str | None
    icon: str | None = Field(description="What was stored: an emoji, a custom emoji or a URL.")
    icon_url: str | None = Field(description="An https image URL, or null for a plain emoji.")
    color: str | None
    is_active: bool
    awarded_count: int
    role_id: str | None = Field(description="The Discord role holders get, if linked.")
    created_at: str
    updated_at: str


class BadgeList(BaseModel):
    model_config = _config({"badges": [BADGE_EXAMPLE], "nextCursor": None})

    badges: list[Badge]
    next_cursor: str | None


class Awarder(BaseModel):
    model_config = _config({"id": "80351110224678913", "username": "Maya"})

    id: str
    username: str


MEMBER_BADGE_EXAMPLE: dict[str, Any] = {
    **{k: BADGE_EXAMPLE[k] for k in ("id", "name", "slug", "description", "icon", "iconUrl")},
    "color": "#FF5733",
    "awardedAt": STAMP,
    "awardedBy": {"id": "80351110224678913", "username": "Maya"},
    "reason": "Helped at the launch event",
}


class MemberBadge(BaseModel):
    model_config = _config(MEMBER_BADGE_EXAMPLE)

    id: str
    name: str
    slug: str
    description: str | None
    icon: str | None
    icon_url: str | None
    color: str | None
    awarded_at: str
    awarded_by: Awarder
    reason: str | None


class MemberBadgeList(BaseModel):
    model_config = _config({"badges": [MEMBER_BADGE_EXAMPLE], "nextCursor": None})

    badges: list[MemberBadge]
    next_cursor: str | None


HOLDER_EXAMPLE: dict[str, Any] = {
    "userId": USER_ID_EXAMPLE,
    "awardedAt": STAMP,
    "awardedBy": {"id": "80351110224678913", "username": "Maya"},
    "reason": "Helped at the launch event",
}


class Holder(BaseModel):
    model_config = _config(HOLDER_EXAMPLE)

    user_id: str
    awarded_at: str
    awarded_by: Awarder
    reason: str | None


class HolderList(BaseModel):
    model_config = _config({"holders": [HOLDER_EXAMPLE], "nextCursor": None})

    holders: list[Holder]
    next_cursor: str | None


EVENT_EXAMPLE: dict[str, Any] = {
    "id": "1042",
    "kind": "awarded",
    "badgeId": BADGE_ID_EXAMPLE,
    "badgeName": "Early Adopter",
    "at": STAMP,
    "actor": {"id": "80351110224678913", "username": "Maya"},
    "reason": "Helped at the launch event",
}


class HistoryEvent(BaseModel):
    model_config = _config(EVENT_EXAMPLE)

    id: str
    kind: str = Field(description="awarded or revoked")
    badge_id: str | None
    badge_name: str | None
    at: str
    actor: Awarder
    reason: str | None


class History(BaseModel):
    model_config = _config({"events": [EVENT_EXAMPLE], "nextCursor": None})

    events: list[HistoryEvent]
    next_cursor: str | None


class BadgeCreate(BaseModel):
    model_config = _config(
        {
            "name": "Contributor",
            "slug": "contributor",
            "description": "Contributed code to the project",
            "iconUrl": "https://cdn.example.com/contributor.png",
            "color": "#4CAF50",
            "isActive": True,
        },
        forbid=True,
    )

    name: str = Field(max_length=2000)
    slug: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=10_000)
    icon: str | None = Field(
        default=None, max_length=2000, description="An emoji, a custom emoji or an https URL."
    )
    icon_url: str | None = Field(
        default=None, max_length=2000, description="An https image URL (the reference's field)."
    )
    color: str | None = Field(default=None, max_length=100)
    is_active: bool = True


class BadgeUpdate(BaseModel):
    """Every field is optional; null clears description, icon and color."""

    model_config = _config(
        {"name": "Updated Name", "description": "Updated description", "isActive": False},
        forbid=True,
    )

    name: str | None = Field(default=None, max_length=2000)
    slug: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=10_000)
    icon: str | None = Field(default=None, max_length=2000)
    icon_url: str | None = Field(default=None, max_length=2000)
    color: str | None = Field(default=None, max_length=100)
    is_active: bool | None = None


class AwardRequest(BaseModel):
    model_config = _config(
        {
            "badgeId": BADGE_ID_EXAMPLE,
            "userId": USER_ID_EXAMPLE,
            "reason": "Optional reason for awarding",
        },
        forbid=True,
    )

    badge_id: str = Field(max_length=200)
    user_id: str = Field(pattern=SNOWFLAKE, description="A Discord user id, as a string.")
    reason: str | None = Field(default=None, max_length=10_000)


USER_BADGE_EXAMPLE: dict[str, Any] = {
    "id": "0b8f0a53-6c1d-4f55-8d0e-7a2f3c9e1b20",
    "userId": USER_ID_EXAMPLE,
    "badgeId": BADGE_ID_EXAMPLE,
    "awardedAt": STAMP,
}


class UserBadge(BaseModel):
    model_config = _config(USER_BADGE_EXAMPLE)

    id: str
    user_id: str
    badge_id: str
    awarded_at: str


class AwardResponse(BaseModel):
    model_config = _config(
        {"message": "Badge awarded successfully", "userBadge": USER_BADGE_EXAMPLE}
    )

    message: str
    user_badge: UserBadge


class BulkAwardRequest(BaseModel):
    model_config = _config(
        {
            "badgeId": BADGE_ID_EXAMPLE,
            "userIds": [USER_ID_EXAMPLE, "80351110224678914"],
            "reason": "Spring event",
        },
        forbid=True,
    )

    badge_id: str = Field(max_length=200)
    user_ids: list[str] = Field(min_length=1, max_length=10_000)
    reason: str | None = Field(default=None, max_length=10_000)


class Refusal(BaseModel):
    model_config = _config({"userId": "80351110224678915", "reason": "not a member"})

    user_id: str
    reason: str


class BulkAwardResponse(BaseModel):
    model_config = _config(
        {
            "message": "Bulk award done",
            "badgeId": BADGE_ID_EXAMPLE,
            "awarded": [USER_ID_EXAMPLE],
            "alreadyHeld": ["80351110224678914"],
            "refused": [{"userId": "80351110224678915", "reason": "not a member"}],
            "awardedCount": 151,
        }
    )

    message: str
    badge_id: str
    awarded: list[str]
    already_held: list[str]
    refused: list[Refusal]
    awarded_count: int


class Message(BaseModel):
    model_config = _config({"message": "Badge revoked successfully"})

    message: str


class BadgeDeleted(BaseModel):
    model_config = _config({"message": "Badge deleted successfully", "revokedFrom": 150})

    message: str
    revoked_from: int = Field(description="How many members held it (they lost it).")


# -- automatic badges and award policies ----------------------------------------------------

WEIGHTS_EXAMPLE: dict[str, Any] = {"messages": 1.0, "reactions": 0.5, "voiceMinutes": 0.1}


class RuleWeights(BaseModel):
    """What one message, one reaction received and one minute in voice count."""

    model_config = _config(WEIGHTS_EXAMPLE)

    messages: float
    reactions: float
    voice_minutes: float


class RuleWeightsIn(BaseModel):
    """Only for a top_active rule; what is left out counts 1 (messages) or 0 (the others)."""

    model_config = _config(WEIGHTS_EXAMPLE, forbid=True)

    messages: float = Field(default=1.0, ge=0, le=MAX_WEIGHT, allow_inf_nan=False)
    reactions: float = Field(default=0.0, ge=0, le=MAX_WEIGHT, allow_inf_nan=False)
    voice_minutes: float = Field(default=0.0, ge=0, le=MAX_WEIGHT, allow_inf_nan=False)


RULE_EXAMPLE: dict[str, Any] = {
    "id": "12",
    "kind": "messages",
    "threshold": 500,
    "windowDays": 30,
    "excludedChannelIds": ["80351110224678999"],
    "cooldown": True,
    "weights": {"messages": 1.0, "reactions": 0.0, "voiceMinutes": 0.0},
    "requiredBadgeId": None,
    "replaces": False,
    "description": "500 messages in 30 days, at most one message a minute, not counting 1 channel",
    "createdAt": STAMP,
}

_KIND_HELP = (
    "messages, reactions (received) and voice_minutes count activity; tenure_days and "
    "boost_days count days in the server and boosting; holds_badge requires another badge "
    "(threshold 1); top_active is the top N (threshold N) most active members."
)


class Rule(BaseModel):
    model_config = _config(RULE_EXAMPLE)

    id: str
    kind: RuleKind = Field(description=_KIND_HELP)
    threshold: int
    window_days: int | None = Field(description="Only the last N days count; null: all time.")
    excluded_channel_ids: list[str]
    cooldown: bool = Field(description="Messages count at most once a minute.")
    weights: RuleWeights = Field(description="What each kind of activity counts for this rule.")
    required_badge_id: str | None
    replaces: bool = Field(description="holds_badge: the required badge is taken back.")
    description: str
    created_at: str


class RuleCreate(BaseModel):
    """A member who meets every rule of a badge gets it; the rule is checked at once over
    everything counted so far (retroactive)."""

    model_config = _config(
        {"kind": "messages", "threshold": 500, "windowDays": 30, "cooldown": True},
        forbid=True,
    )

    kind: RuleKind = Field(description=_KIND_HELP)
    threshold: int = Field(
        ge=1,
        le=MAX_THRESHOLD,
        description=f"A count (1-{MAX_THRESHOLD:,}), days (1-{MAX_DAYS:,}), N of a top N "
        "(1-100), or 1 for holds_badge.",
    )
    window_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WINDOW,
        description="Activity rules: only the last N days count (top_active: 30 by default).",
    )
    excluded_channel_ids: list[Annotated[str, Field(pattern=SNOWFLAKE)]] = Field(
        default_factory=list, max_length=MAX_EXCLUDED, description="Channels that do not count."
    )
    cooldown: bool = Field(default=False, description="messages, top_active: once a minute.")
    weights: RuleWeightsIn | None = Field(default=None, description="top_active only.")
    required_badge_id: str | None = Field(
        default=None, max_length=200, description="holds_badge: the badge a member must hold."
    )
    replaces: bool = Field(
        default=False, description="holds_badge: take the required badge back when earned."
    )


class EvaluationRefusal(BaseModel):
    model_config = _config({"badgeId": BADGE_ID_EXAMPLE, "reason": "Cannot award inactive badge"})

    badge_id: str
    reason: str


class Evaluation(BaseModel):
    model_config = _config({"awarded": 3, "revoked": 0, "refused": []})

    awarded: int = Field(description="Members who already qualified and got the badge now.")
    revoked: int
    refused: list[EvaluationRefusal] = Field(
        description="Badges that could not be awarded automatically, and why."
    )


class RuleAdded(BaseModel):
    model_config = _config(
        {
            "message": "Rule added",
            "rule": RULE_EXAMPLE,
            "evaluation": {"awarded": 3, "revoked": 0, "refused": []},
        }
    )

    message: str
    rule: Rule
    evaluation: Evaluation


class RuleRemoved(BaseModel):
    model_config = _config({"message": "Rule removed", "rule": RULE_EXAMPLE})

    message: str
    rule: Rule


POLICY_EXAMPLE: dict[str, Any] = {
    "badgeId": BADGE_ID_EXAMPLE,
    "awarders": "members",
    "roleId": None,
    "perDay": 3,
    "selfAward": False,
    "autoRevoke": False,
    "rotationHours": 24,
}

_AWARDERS_HELP = (
    "moderators: the Moderator level and above; role: also members with roleId; members: "
    "any member, as a gift (never to themselves, once per giver and recipient)."
)


class Policy(BaseModel):
    model_config = _config(POLICY_EXAMPLE)

    badge_id: str
    awarders: Awarders = Field(description=_AWARDERS_HELP)
    role_id: str | None = Field(description="With awarders role: the role that may award.")
    per_day: int | None = Field(description="Awards a day per giver below Moderator; null: any.")
    self_award: bool = Field(description="Givers below Moderator may award it to themselves.")
    auto_revoke: bool = Field(description="Rules take it back when no longer met.")
    rotation_hours: int = Field(description="Top N badges are re-ranked this often.")


class PolicyUpdate(BaseModel):
    """Every field is optional and what is left out keeps its value; null clears roleId and
    perDay. Changing awarders away from role clears roleId."""

    model_config = _config({"awarders": "members", "perDay": 3, "autoRevoke": False}, forbid=True)

    awarders: Awarders | None = Field(default=None, description=_AWARDERS_HELP)
    role_id: str | None = Field(default=None, pattern=SNOWFLAKE)
    per_day: int | None = Field(default=None, ge=1, le=1000)
    self_award: bool | None = None
    auto_revoke: bool | None = None
    rotation_hours: int | None = Field(default=None, ge=1, le=24 * 90)


RULE_PROGRESS_EXAMPLE: dict[str, Any] = {
    "rule": RULE_EXAMPLE,
    "value": 120.0,
    "target": 500.0,
    "met": False,
    "rank": None,
}


class RuleProgress(BaseModel):
    model_config = _config(RULE_PROGRESS_EXAMPLE)

    rule: Rule
    value: float = Field(description="Where the member is (a count, days, 1 if held).")
    target: float = Field(description="What meets the rule (top_active: the last place's).")
    met: bool
    rank: int | None = Field(description="top_active: the member's place; else null.")


BADGE_PROGRESS_EXAMPLE: dict[str, Any] = {
    "badgeId": BADGE_ID_EXAMPLE,
    "badgeName": "Regular",
    "held": False,
    "rules": [RULE_PROGRESS_EXAMPLE],
}


class BadgeProgress(BaseModel):
    model_config = _config(BADGE_PROGRESS_EXAMPLE)

    badge_id: str
    badge_name: str
    held: bool
    rules: list[RuleProgress]


class Progress(BaseModel):
    model_config = _config({"userId": USER_ID_EXAMPLE, "badges": [BADGE_PROGRESS_EXAMPLE]})

    user_id: str
    badges: list[BadgeProgress]


class RuleList(BaseModel):
    model_config = _config(
        {"badgeId": BADGE_ID_EXAMPLE, "rules": [RULE_EXAMPLE], "policy": POLICY_EXAMPLE}
    )

    badge_id: str
    rules: list[Rule]
    policy: Policy


class ErrorBody(BaseModel):
    model_config = _config(
        {"code": "badge_not_found", "message": "Badge not found", "details": None}
    )

    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    model_config = _config({"error": {"code": "badge_not_found", "message": "Badge not found"}})

    error: ErrorBody
