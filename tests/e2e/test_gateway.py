"""The gateway drops: the bot reconnects (resuming, or identifying again when Discord refuses
the resume), the command in flight is answered, and later commands and role changes go on."""

from __future__ import annotations

from badges.permissions import Actor, Level
from db.database import Database
from tests.e2e.conftest import Live, connected, until
from tests.e2e.test_commands import create_linked_badge, role_calls
from tests.emulator import DiscordEmulator
from tests.emulator.limits import RouteLimit

OWNER = Actor(2, "e2e owner", Level.SUPER_ADMIN, manages_roles=True)


async def test_a_drop_mid_command_is_resumed_and_the_reply_arrives(live: Live) -> None:
    await create_linked_badge(live)
    award = await live.emu.invoke(
        live.guild, live.mod.user.id, "badge award", badge="Helper", member=live.alice.user.id
    )
    await live.emu.gateway.drop(code=4000)  # the interaction was delivered; the socket goes
    await award.wait()
    assert "Helper" in award.text
    assert not award.ephemeral
    await live.until(lambda: live.emu.gateway.resumes == 1)
    await live.until(lambda: live.helpers in live.alice.roles)
    # the GUILD_MEMBER_UPDATE sent while the socket was down arrived with the resume
    guild = live.bot.get_guild(live.guild.id)
    assert guild is not None
    await live.until(
        lambda: live.helpers in {r.id for r in guild.get_member(live.alice.user.id).roles}
    )  # type: ignore[union-attr]
    after = await (await live.emu.invoke(live.guild, live.bob.user.id, "badges")).wait()
    assert "no badges" in after.text
    assert live.emu.gateway.identifies == 1


async def test_a_refused_resume_identifies_again_and_queued_role_changes_continue(
    live: Live,
) -> None:
    await create_linked_badge(live)
    members = [await live.emu.add_member(live.guild, f"member{i}") for i in range(30)]
    live.emu.limits["member role add"] = RouteLimit(5, 1.0)  # a slow drain: ~6 s for 30
    badge = (await live.bot.service.catalog.list(live.guild.id)).items[0]
    live.emu.gateway.refuse_resumes = True
    await live.bot.service.awards.bulk_award(
        OWNER, live.guild.id, badge.id, [m.user.id for m in members], reason="e2e"
    )
    await live.until(lambda: sum(live.helpers in m.roles for m in members) >= 5)
    await live.emu.gateway.drop(code=4000)
    await live.until(lambda: live.emu.gateway.identifies == 2)
    served = await (await live.emu.invoke(live.guild, live.bob.user.id, "badges")).wait()
    assert served.acked_at is not None
    assert "no badges" in served.text
    await live.until(lambda: all(live.helpers in m.roles for m in members), within=30)
    await live.bot.role_sync.wait_idle()
    for m in members:
        assert role_calls(live, m.user.id, live.helpers) == [204], m.user.name
    assert live.emu.gateway.resumes == 0


async def test_a_large_guild_arrives_without_members_and_the_bot_asks_for_them(
    emu: DiscordEmulator, database: Database
) -> None:
    guild = emu.create_guild("Large")
    for i in range(1200):
        guild.add_member(emu.create_user(f"member{i}"))
    async with connected(emu, database) as (bot, _task):
        cached = bot.get_guild(guild.id)
        assert cached is not None
        await until(lambda: len(cached.members) == len(guild.members))
        assert cached.chunked
