"""Domain objects as the API's JSON: camelCase, string snowflakes, ISO 8601 UTC with ``Z``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from badges.automation import (
    AwardPolicy,
    BadgeProgress,
    EvaluationReport,
    Rule,
    RuleProgress,
    describe,
)
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


def rule(r: Rule, names: Mapping[str, str]) -> dict[str, Any]:
    """A rule; ``names`` (badge id -> name) words the badge a holds_badge rule requires."""
    w = r.weights_used
    return {
        "id": str(r.id),
        "kind": r.kind.value,
        "threshold": r.threshold,
        "windowDays": r.window_days,
        "excludedChannelIds": [str(c) for c in sorted(r.excluded_channel_ids)],
        "cooldown": r.cooldown,
        "weights": {
            "messages": w.messages,
            "reactions": w.reactions,
            "voiceMinutes": w.voice_minutes,
        },
        "requiredBadgeId": r.required_badge_id,
        "replaces": r.replaces,
        "description": describe(r, names),
        "createdAt": stamp(r.created_at),
    }


def policy(p: AwardPolicy) -> dict[str, Any]:
    return {
        "badgeId": p.badge_id,
        "awarders": p.awarders.value,
        "roleId": _sid(p.role_id),
        "perDay": p.per_day,
        "selfAward": p.self_award,
        "autoRevoke": p.auto_revoke,
        "rotationHours": p.rotation_hours,
    }


def evaluation(report: EvaluationReport) -> dict[str, Any]:
    return {
        "awarded": report.awarded,
        "revoked": report.revoked,
        "refused": [{"badgeId": b, "reason": why} for b, why in report.refused.items()],
    }


def _rule_progress(item: RuleProgress, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "rule": rule(item.rule, names),
        "value": float(item.value),
        "target": float(item.target),
        "met": item.met,
        "rank": item.rank,
    }


def progress(user_id: int, badges: list[BadgeProgress], names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "userId": str(user_id),
        "badges": [
            {
                "badgeId": b.badge_id,
                "badgeName": b.badge_name,
                "held": b.held,
                "rules": [_rule_progress(item, names) for item in b.rules],
            }
            for b in badges
        ],
    }
