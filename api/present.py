"""Domain objects as the API's JSON: camelCase, string snowflakes, ISO 8601 UTC with ``Z``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from badges.model import AuditEvent, Award, Badge, BulkAwardResult, MemberBadge

_CUSTOM_EMOJI = re.compile(r"<(a?):[A-Za-z0-9_]{2,32}:([0-9]{15,21})>")
CDN = "https://cdn.discordapp.com/emojis"


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def icon_url(icon: str | None) -> str | None:
    """An https image for the icon: the URL itself, a custom emoji's CDN image, or None."""
    if icon is None:
        return None
    if icon.startswith("https://"):
        return icon
    match = _CUSTOM_EMOJI.fullmatch(icon)
    if match:
        return f"{CDN}/{match.group(2)}.{'gif' if match.group(1) else 'png'}"
    return None


def _sid(value: int | None) -> str | None:
    return None if value is None else str(value)


def badge(b: Badge) -> dict[str, Any]:
    return {
        "id": b.id,
        "name": b.name,
        "slug": b.slug,
        "description": b.description,
        "icon": b.icon,
        "iconUrl": icon_url(b.icon),
        "color": b.color,
        "isActive": b.is_active,
        "awardedCount": b.awarded_count,
        "roleId": _sid(b.role_id),
        "createdAt": stamp(b.created_at),
        "updatedAt": stamp(b.updated_at),
    }


def _by(user_id: int, name: str) -> dict[str, str]:
    return {"id": str(user_id), "username": name}


def member_badge(item: MemberBadge) -> dict[str, Any]:
    b, a = item.badge, item.award
    return {
        "id": b.id,
        "name": b.name,
        "slug": b.slug,
        "description": b.description,
        "icon": b.icon,
        "iconUrl": icon_url(b.icon),
        "color": b.color,
        "awardedAt": stamp(a.awarded_at),
        "awardedBy": _by(a.awarded_by_id, a.awarded_by_name),
        "reason": a.reason,
    }


def holder(a: Award) -> dict[str, Any]:
    return {
        "userId": str(a.user_id),
        "awardedAt": stamp(a.awarded_at),
        "awardedBy": _by(a.awarded_by_id, a.awarded_by_name),
        "reason": a.reason,
    }


def user_badge(a: Award) -> dict[str, Any]:
    return {
        "id": a.id,
        "userId": str(a.user_id),
        "badgeId": a.badge_id,
        "awardedAt": stamp(a.awarded_at),
    }


def event(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "kind": e.kind.value,
        "badgeId": e.badge_id,
        "badgeName": e.badge_name,
        "at": stamp(e.at),
        "actor": _by(e.actor_id, e.actor_name),
        "reason": e.reason,
    }


def bulk(result: BulkAwardResult) -> dict[str, Any]:
    return {
        "message": "Bulk award done",
        "badgeId": result.badge.id,
        "awarded": [str(u) for u in result.awarded],
        "alreadyHeld": [str(u) for u in result.already_held],
        "refused": [{"userId": str(u), "reason": r} for u, r in result.refused.items()],
        "awardedCount": result.badge.awarded_count,
    }
