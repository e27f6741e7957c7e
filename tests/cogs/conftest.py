"""A simulated Discord server (SimCord) with the real bot, cogs and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import pytest
import simcord

from bot.app import BadgeBot, create_bot
from bot.config import Settings
from bot.ui.replies import describe
from db.database import Database


@pytest.fixture
def simcord_bot(database: Database, request: pytest.FixtureRequest) -> BadgeBot:
    members = request.node.get_closest_marker("members_intent") is not None
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token="not-used-by-simcord", members_intent=members
    )
    return create_bot(settings, database=database)


@dataclass
class World:
    env: simcord.Env
    guild: simcord.GuildHandle
    general: simcord.ChannelHandle
    logs: simcord.ChannelHandle
    owner: simcord.MemberActor
    admin: simcord.MemberActor
    mod: simcord.MemberActor
    alice: simcord.MemberActor
    bob: simcord.MemberActor
    robot: simcord.MemberActor
    mod_role: simcord.RoleHandle
    helpers: simcord.RoleHandle
    """A plain role below the bot's, free to link to a badge."""

    acknowledged: int = 0

    @property
    def bot(self) -> BadgeBot:
        return self.env.bot  # type: ignore[no-any-return]

    def take_errors(self) -> tuple[BaseException, ...]:
        """Errors the bot raised since the last call: a test that expects a bug takes it."""
        errors = self.env.errors_since(self.acknowledged)
        self.acknowledged = self.env.error_cursor
        return errors


async def build_world(env: simcord.Env, name: str = "Test Guild") -> World:
    owner_user = env.create_user(f"owner-{name}")
    guild = env.create_guild(name, owner=owner_user)
    general = guild.create_text_channel("general")
    logs = guild.create_text_channel("badge-log")
    admins = guild.create_role(
        "Admins", permissions=discord.Permissions(manage_guild=True, manage_roles=True)
    )
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_roles=True))
    plain_mod_role = guild.create_role("Staff")
    helpers = guild.create_role("Helpers")
    world = World(
        env=env,
        guild=guild,
        general=general,
        logs=logs,
        owner=simcord.MemberActor(env, guild, owner_user),
        admin=guild.add_member(env.create_user("adminuser"), roles=[admins]),
        mod=guild.add_member(env.create_user("moduser"), roles=[mods]),
        alice=guild.add_member(env.create_user("alice")),
        bob=guild.add_member(env.create_user("bob"), roles=[plain_mod_role]),
        robot=guild.add_member(env.create_user("robot", bot=True)),
        mod_role=plain_mod_role,
        helpers=helpers,
    )
    await env.settle()
    return world


def assert_only_user_errors(world: World) -> None:
    """Refusals the bot rendered for the user are expected; anything else is a bug."""
    bugs = [e for e in world.take_errors() if describe(e) is None]
    _ = world.env.errors  # acknowledge the expected ones for SimCord's own check
    assert not bugs, f"the bot raised unexpected errors: {bugs!r}"


@pytest.fixture
async def world(simcord_env: simcord.Env) -> AsyncIterator[World]:
    world = await build_world(simcord_env)
    yield world
    assert_only_user_errors(world)


def embed_of(result: simcord.InteractionResult) -> discord.Embed:
    assert result.response is not None, "no response"
    assert result.response.embeds, f"no embed in {result.response.content!r}"
    return result.response.embeds[0]


def text_of(result: simcord.InteractionResult) -> str:
    """What the user reads: the response's content, or of its first followup."""
    if result.response is not None and result.response.content:
        return result.response.content
    assert result.followups, "no reply at all"
    return result.followups[0].content or ""


def private_text(result: simcord.InteractionResult) -> str:
    """What the user reads, checked to be seen by them alone: an ephemeral response, or,
    after a public deferral (a refusal only the write could decide), ephemeral followups
    with the public "thinking" message gone."""
    if result.response is not None:
        assert result.response.ephemeral, f"public reply: {result.response.content!r}"
        return result.response.content
    assert result.followups, "no reply at all"
    assert all(f.ephemeral for f in result.followups), "a public followup"
    return result.followups[0].content or ""


def message(channel: simcord.ChannelHandle, message_id: int) -> discord.Message:
    """The current state of one message of a channel."""
    return next(m for m in channel.history() if m.id == message_id)


async def role_ids(world: World, member: simcord.MemberActor) -> set[int]:
    """The member's roles as Discord has them now (asked over REST, like a client would)."""
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    fetched = await guild.fetch_member(member.id)
    return {r.id for r in fetched.roles if not r.is_default()}


async def add_members(world: World, count: int, prefix: str = "member") -> list[int]:
    """``count`` new members of the test guild; their ids."""
    ids: list[int] = []
    for start in range(0, count, 200):  # each join is an event the bot handles: in steps
        for i in range(start, min(count, start + 200)):
            ids.append(world.guild.add_member(world.env.create_user(f"{prefix}{i}")).id)
        await world.env.settle()
    return ids
