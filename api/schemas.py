"""The JSON shapes of the REST API, as the badges reference names them (camelCase).

Requests are validated by these models. Responses are built by ``api.present`` as plain
dicts (fast) and described here for the OpenAPI document; the schema tests check that every
response matches its model. Snowflake ids are strings: they exceed JavaScript's safe integers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

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
