"""Gated channels: only a badge's holders see them; ungating restores what was there."""

from __future__ import annotations

import discord
import pytest

from tests.cogs.conftest import World, embed_of, text_of


@pytest.fixture
async def gated(world: World) -> World:
    await world.admin.slash(world.general, "badge create", name="Helper", role=world.helpers)
    world.guild.create_text_channel("helpers-lounge")
    await world.env.settle()
    return world


def _channel(world: World, name: str) -> discord.TextChannel:
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    channel = discord.utils.get(guild.text_channels, name=name)
    assert channel is not None
    return channel


async def test_gate_hides_the_channel_from_everyone_but_holders(gated: World) -> None:
    w = gated
    lounge = w.guild.channels["helpers-lounge"]
    res = await w.admin.slash(w.general, "badge gate", badge="helper", channel=lounge)
    assert text_of(res) == (
        f"<#{lounge.id}> is now visible only to holders of **Helper** (<@&{w.helpers.id}>)."
    )
    channel = _channel(w, "helpers-lounge")
    guild = channel.guild
    assert channel.overwrites_for(guild.default_role).view_channel is False
    assert channel.overwrites_for(guild.get_role(w.helpers.id)).view_channel is True  # type: ignore[arg-type]
    assert channel.permissions_for(guild.me).view_channel
    # a member without the badge cannot see it; awarding opens it
    alice = await guild.fetch_member(w.alice.id)
    assert not channel.permissions_for(alice).view_channel
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    await w.env.settle()
    alice = await guild.fetch_member(w.alice.id)
    assert channel.permissions_for(alice).view_channel
    info = embed_of(await w.alice.slash(w.general, "badge info", badge="helper"))
    assert {f.name: f.value for f in info.fields}["Opens"] == f"<#{lounge.id}>"


async def test_ungate_restores_the_previous_overwrites(gated: World) -> None:
    w = gated
    lounge = w.guild.channels["helpers-lounge"]
    channel = _channel(w, "helpers-lounge")
    everyone = channel.guild.default_role
    await channel.set_permissions(everyone, send_messages=False)
    await w.env.settle()
    await w.admin.slash(w.general, "badge gate", badge="helper", channel=lounge)
    # the owner still sees the hidden channel (an admin without the badge would not)
    res = await w.owner.slash(w.general, "badge ungate", badge="helper", channel=str(lounge.id))
    assert text_of(res) == f"<#{lounge.id}> is no longer gated by **Helper**."
    channel = _channel(w, "helpers-lounge")
    restored = channel.overwrites_for(everyone)
    assert restored.view_channel is None
    assert restored.send_messages is False
    assert channel.guild.get_role(w.helpers.id) not in channel.overwrites


async def test_gate_refusals(gated: World) -> None:
    w = gated
    lounge = w.guild.channels["helpers-lounge"]
    await w.admin.slash(w.general, "badge create", name="Plain")
    res = await w.admin.slash(w.general, "badge gate", badge="plain", channel=lounge)
    assert res.ephemeral
    assert text_of(res) == (
        "'Plain' has no role to open channels with: link one first. Link one with /badge link-role."
    )
    res = await w.mod.slash(w.general, "badge gate", badge="helper", channel=lounge)
    assert text_of(res) == (
        "You need the Admin level to change who sees a channel."
        " The server owner can give your role that level with /badge config set-role."
    )
    locked = w.guild.create_text_channel(
        "locked", overwrites={w.guild.me: discord.PermissionOverwrite(manage_roles=False)}
    )
    await w.env.settle()
    res = await w.admin.slash(w.general, "badge gate", badge="helper", channel=locked)
    assert text_of(res).startswith(f"I cannot change who sees <#{locked.id}>")
    assert (
        _channel(w, "locked").overwrites_for(_channel(w, "locked").guild.default_role).view_channel
        is None
    )
    res = await w.owner.slash(w.general, "badge ungate", badge="helper", channel=str(lounge.id))
    assert text_of(res) == "That channel is not gated by 'Helper'."


async def test_gating_twice_is_refused(gated: World) -> None:
    w = gated
    lounge = w.guild.channels["helpers-lounge"]
    await w.admin.slash(w.general, "badge gate", badge="helper", channel=lounge)
    res = await w.owner.slash(w.general, "badge gate", badge="helper", channel=lounge)
    assert text_of(res) == "That channel is already gated by 'Helper'."
    res = await w.admin.slash(w.general, "badge unlink-role", badge="helper")
    assert res.response is not None
    clicked = await w.admin.click(res.response, label="Let them keep it")
    assert "remove those gates first" in (clicked.followups[0].content if clicked.followups else "")
