"""The demo server: its people, roles and channels, built with SimCord's builders.

SimCord hands out snowflakes from its virtual clock in creation order, so the same builder
calls at the same virtual instant give the same ids on every run, and the awards stored in
the sandbox database keep pointing at the same members. Append new entities at the end of
``build_world``; never reorder or remove earlier ones (the session checks the ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import discord
import simcord

WORLD_TIME = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
"""The virtual instant the world is built at, after the bot's start-up allocated its ids."""

GUILD_NAME = "Badge Sandbox"
MEMBER_NAMES = ("Alice", "Bob", "Carol", "Dan")


@dataclass(frozen=True)
class DemoWorld:
    """Handles on the demo server, by the part each plays."""

    env: simcord.Env
    guild: simcord.GuildHandle
    general: simcord.ChannelHandle
    helpers_lounge: simcord.ChannelHandle
    helpers_role: simcord.RoleHandle
    owner: simcord.MemberActor
    admin: simcord.MemberActor
    moderator: simcord.MemberActor
    members: tuple[simcord.MemberActor, ...]

    @property
    def people(self) -> tuple[simcord.MemberActor, ...]:
        """Everyone a visitor can be, most powerful first."""
        return (self.owner, self.admin, self.moderator, *self.members)

    def ids(self) -> dict[str, int]:
        """Every simulated id the database may refer to, by a stable name."""
        named: dict[str, int] = {"guild": self.guild.id}
        named.update({f"channel:{c.name}": c.id for c in self.guild.channels.values()})
        named.update({f"role:{r.name}": r.id for r in self.guild.roles.values()})
        named.update({f"member:{m.name}": m.id for m in self.people})
        return named


def display_name(person: simcord.MemberActor) -> str:
    """The name the page shows for a person, e.g. "Maya (moderator)"."""
    return person.user.global_name or person.name


async def _reach_world_time(env: simcord.Env) -> None:
    """Move the virtual clock to WORLD_TIME, so ids do not depend on how many the bot's
    start-up took (the number of its commands, for instance)."""
    remaining = (WORLD_TIME - env.now()).total_seconds()
    if remaining > 0:
        await env.advance_time(remaining)


def _user(env: simcord.Env, name: str, part: str = "") -> simcord.UserHandle:
    return env.create_user(name.lower(), global_name=f"{name} ({part})" if part else name)


async def build_world(env: simcord.Env) -> DemoWorld:
    """Create the demo server; the same calls in the same order on every run."""
    await _reach_world_time(env)
    owner = _user(env, "Olivia", "owner")
    guild = env.create_guild(GUILD_NAME, owner=owner)
    general = guild.create_text_channel(
        "general", topic="Try the badge bot: pick who you are under Viewing as, then type /"
    )
    admins = guild.create_role(
        "Admins", permissions=discord.Permissions(manage_guild=True), color=0xE67E22, hoist=True
    )
    moderators = guild.create_role(
        "Moderators", permissions=discord.Permissions(manage_roles=True), color=0x3498DB, hoist=True
    )
    admin = guild.add_member(_user(env, "Adam", "admin"), roles=[admins])
    moderator = guild.add_member(_user(env, "Maya", "moderator"), roles=[moderators])
    members = tuple(guild.add_member(_user(env, name)) for name in MEMBER_NAMES)
    # For a badge linked to a role (see seed.seed_role_linked_badge): the role opens a channel.
    helpers = guild.create_role("Helpers", color=0x2ECC71)
    await env.settle()  # the bot has its own member once it has seen the guild
    me = guild.me
    assert me is not None
    lounge = guild.create_text_channel(
        "helpers-lounge",
        topic="Only for members with the Helpers role",
        overwrites={
            guild.default_role: discord.PermissionOverwrite(view_channel=False),
            helpers: discord.PermissionOverwrite(view_channel=True),
            me: discord.PermissionOverwrite(view_channel=True),
        },
    )
    await env.settle()
    return DemoWorld(
        env=env,
        guild=guild,
        general=general,
        helpers_lounge=lounge,
        helpers_role=helpers,
        owner=simcord.MemberActor(env, guild, owner),
        admin=admin,
        moderator=moderator,
        members=members,
    )
