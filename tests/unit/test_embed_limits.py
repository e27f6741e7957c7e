"""Pages of the longest possible content stay inside Discord's embed limits."""

from __future__ import annotations

from datetime import UTC, datetime

import discord

from badges.model import AuditEvent, Award, Badge, EventKind, MemberBadge
from bot.ui import embeds

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EMBED_TOTAL, FIELD_VALUE, FIELDS = 6000, 1024, 25


def _badge(i: int) -> Badge:
    return Badge(
        id=f"id-{i}", guild_id=1, name="N" * 99 + str(i % 10), slug="s" * 64,
        description="d" * 1000, icon="<a:" + "e" * 32 + ":123456789012345678>", color="#FFFFFF",
        is_active=True, role_id=2**62, awarded_count=10**6, created_at=NOW, updated_at=NOW,
        created_by=1,
    )  # fmt: skip


def _award(i: int) -> Award:
    return Award(
        id=f"a-{i}", guild_id=1, badge_id=f"id-{i}", user_id=2**62, awarded_by_id=2**62,
        awarded_by_name="M" * 100, reason="r" * 500, awarded_at=NOW,
    )  # fmt: skip


def _fits(embed: discord.Embed) -> None:
    assert len(embed) <= EMBED_TOTAL
    assert len(embed.fields) <= FIELDS
    assert all(len(f.value or "") <= FIELD_VALUE for f in embed.fields)
    assert len(embed.description or "") <= 4096


class _Member:
    """What the embeds read of a member, at its longest."""

    display_name = "U" * 32
    mention = f"<@{2**62}>"
    display_avatar = type("Asset", (), {"url": "https://cdn.discordapp.com/" + "a" * 100})()


def test_a_page_of_member_badges_fits() -> None:
    items = [MemberBadge(_badge(i), _award(i)) for i in range(embeds.BADGES_PER_PAGE)]
    _fits(embeds.member_badges(_Member(), items, 0, 9, 99))  # type: ignore[arg-type]


def test_a_page_of_history_fits() -> None:
    member = _Member()
    events = [
        AuditEvent(
            id=i,
            guild_id=1,
            kind=EventKind.REVOKED,
            actor_id=2**62,
            actor_name="M" * 100,
            at=NOW,
            badge_id=f"id-{i}",
            badge_name="N" * 100,
            user_id=2**62,
            reason="r" * 500,
            before=None,
            after=None,
        )
        for i in range(embeds.HISTORY_PER_PAGE)
    ]
    _fits(embeds.history(member, events, 0, 9, 99))  # type: ignore[arg-type]


def test_a_page_of_holders_and_of_the_list_fit() -> None:
    awards = [_award(i) for i in range(embeds.HOLDERS_PER_PAGE)]
    _fits(embeds.holders(_badge(0), awards, 0, 9))
    badges = [_badge(i) for i in range(embeds.LIST_PER_PAGE)]
    _fits(embeds.badge_list(badges, 0, 9, 99))
    _fits(embeds.badge_info(_badge(0), list(range(10**17, 10**17 + 40))))
