"""What a hostile member or a careless admin tried, as they would try it."""

from __future__ import annotations

import discord

from tests.cogs.conftest import World, embed_of, text_of
from tests.cogs.test_gates import _channel


async def test_deleting_a_gating_role_reopens_the_channel(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper", role=world.helpers)
    lounge = world.guild.create_text_channel("helpers-lounge")
    await world.env.settle()
    await world.admin.slash(world.general, "badge gate", badge="helper", channel=lounge)
    channel = _channel(world, "helpers-lounge")
    assert channel.overwrites_for(channel.guild.default_role).view_channel is False
    world.env.backend.delete_role(world.guild.id, world.helpers.id)
    await world.env.settle()
    channel = _channel(world, "helpers-lounge")
    assert channel.overwrites_for(channel.guild.default_role).view_channel is None
    doctor = embed_of(await world.mod.slash(world.general, "badge doctor"))
    assert "helpers-lounge" not in (doctor.description or "")
    assert await world.bot.service.gates.of(world.guild.id) == []


async def test_doctor_reports_a_channel_left_shut(world: World) -> None:
    shut = world.guild.create_text_channel(
        "shut",
        overwrites={world.guild.default_role: discord.PermissionOverwrite(view_channel=False)},
    )
    await world.env.settle()
    doctor = embed_of(await world.mod.slash(world.general, "badge doctor"))
    assert f"<#{shut.id}> is hidden from @everyone and no role may see it" in (
        doctor.description or ""
    )


async def test_ungate_offers_gated_channels_by_name(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper", role=world.helpers)
    lounge = world.guild.create_text_channel("helpers-lounge")
    await world.env.settle()
    await world.admin.slash(world.general, "badge gate", badge="helper", channel=lounge)
    choices = await world.admin.autocomplete(
        world.general, "badge ungate", "channel", "lou", badge="helper"
    )
    assert choices == [{"name": "#helpers-lounge", "value": str(lounge.id)}]


async def test_a_masked_link_in_a_name_is_shown_as_text(world: World) -> None:
    await world.admin.slash(
        world.general, "badge create", name="[Free Nitro](https://evil.example/claim)"
    )
    listing = embed_of(await world.alice.slash(world.general, "badge list"))
    assert listing.description is not None
    assert "\\[Free Nitro\\](https://evil.example/claim)" in listing.description
    assert "[Free Nitro](https" not in listing.description


async def test_a_huge_badge_option_gets_a_short_refusal(world: World) -> None:
    res = await world.mod.slash(world.general, "badge award", badge="x" * 2500, member=world.alice)
    assert res.ephemeral
    text = text_of(res)
    assert len(text) < 300
    assert text.startswith("No badge is named like that: 'xxx")


async def test_an_invisible_name_is_refused(world: World) -> None:
    res = await world.admin.slash(world.general, "badge create", name="\u200b\u200d")
    assert res.ephemeral
    assert text_of(res) == "The badge name has no visible characters."


async def test_a_look_alike_name_is_refused(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper")
    res = await world.admin.slash(world.general, "badge create", name="Неlреr")
    assert res.ephemeral
    assert "already exists" in text_of(res)


async def test_public_commands_have_a_cooldown(world: World) -> None:
    for _ in range(3):
        res = await world.alice.slash(world.general, "badges")
        assert not res.ephemeral
    res = await world.alice.slash(world.general, "badges")
    assert res.ephemeral
    assert text_of(res).startswith("Slow down: try again in ")
    res = await world.bob.slash(world.general, "badges")  # others are not held back
    assert not res.ephemeral
