"""Commands over the wire: what a member sees in Discord, and the roles Discord ends up with."""

from __future__ import annotations

from badges.permissions import Actor, Level
from tests.e2e.conftest import Live

ADMIN = Actor(1, "e2e admin", Level.SUPER_ADMIN, manages_roles=True)


def role_calls(live: Live, user_id: int, role_id: int, method: str = "PUT") -> list[int]:
    """Statuses of the role requests the bot made for one member and role."""
    path = f"/api/v10/guilds/{live.guild.id}/members/{user_id}/roles/{role_id}"
    return [c.status for c in live.emu.calls if c.path == path and c.method == method]


async def create_linked_badge(live: Live, name: str = "Helper") -> None:
    created = await (
        await live.emu.invoke(
            live.guild, live.admin.user.id, "badge create", name=name, role=live.helpers
        )
    ).wait()
    assert created.acked_at is not None
    assert name in created.text, created.text


async def test_award_of_a_role_linked_badge_gives_the_role_in_discord(live: Live) -> None:
    await create_linked_badge(live)
    award = await live.emu.invoke(
        live.guild, live.mod.user.id, "badge award", badge="Helper", member=live.alice.user.id
    )
    await award.wait()
    assert not award.ephemeral
    assert "Helper" in award.text
    await live.until(lambda: live.helpers in live.alice.roles)
    await live.bot.role_sync.wait_idle()
    assert role_calls(live, live.alice.user.id, live.helpers) == [204]
    assert award.refused == []

    shown = await (
        await live.emu.invoke(live.guild, live.bob.user.id, "badges", member=live.alice.user.id)
    ).wait()
    assert "Helper" in shown.text


async def test_member_without_a_level_is_refused_privately_and_nothing_reaches_discord(
    live: Live,
) -> None:
    await create_linked_badge(live)
    refused = await live.emu.invoke(
        live.guild, live.alice.user.id, "badge award", badge="Helper", member=live.bob.user.id
    )
    await refused.wait()
    assert refused.ephemeral
    assert refused.ack_type == 4, "a refusal is the first response, not a deferral"
    assert "moderator" in refused.text.lower()
    assert role_calls(live, live.bob.user.id, live.helpers) == []
    assert live.helpers not in live.bob.roles


async def test_unknown_badge_is_a_private_error(live: Live) -> None:
    refused = await live.emu.invoke(
        live.guild, live.mod.user.id, "badge award", badge="No such badge", member=live.bob.user.id
    )
    await refused.wait()
    assert refused.ephemeral
    assert "no such badge" in refused.text.lower() or "not found" in refused.text.lower()
