"""A naive badge bot, the baseline of bench/interactions.py: plain discord.py with the same two
commands as ours, ``/badges [member]`` and ``/badge award badge member``.

What makes it naive (and what the issue compares against): one SQLAlchemy session per command,
no caches, and the role of a role-linked badge added inline, inside the command
(``await member.add_roles(role)``) before the reply. ``/badge award`` defers first, as a bot that
knows its command can be slow would (``--defer never`` replies only at the end, ``--defer
always`` defers ``/badges`` too). It is otherwise written carefully: a unique award per (badge,
member), an index on the member, and the member's permission checked before anything.

    python -m bench.naive_bot --rest URL --gateway URL --database sqlite+aiosqlite:///naive.db \
        --badge GUILD_ID:Helper:ROLE_ID --badge GUILD_ID:First

Tables of its own (``naive_badges``, ``naive_awards``) in its own SQLite file. Prints ``READY``
when connected; closes on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class BadgeRow(Base):
    __tablename__ = "naive_badges"
    __table_args__ = (UniqueConstraint("guild_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str]
    role_id: Mapped[int | None] = mapped_column(BigInteger)


class AwardRow(Base):
    __tablename__ = "naive_awards"
    __table_args__ = (
        UniqueConstraint("badge_id", "user_id"),
        Index("ix_naive_awards_member", "guild_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    badge_id: Mapped[int] = mapped_column(ForeignKey("naive_badges.id"))
    guild_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    awarded_by: Mapped[int] = mapped_column(BigInteger)
    awarded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


async def reply(interaction: discord.Interaction, **kwargs: Any) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


def _bot(interaction: discord.Interaction) -> NaiveBot:
    assert isinstance(interaction.client, NaiveBot)
    return interaction.client


badge_group = app_commands.Group(name="badge", description="Badges", guild_only=True)


@app_commands.command(name="badges", description="Show a member's badges")
@app_commands.guild_only()
@app_commands.describe(member="Whose badges (yours if left out)")
async def badges(interaction: discord.Interaction, member: discord.User | None = None) -> None:
    bot = _bot(interaction)
    target = member or interaction.user
    if bot.defer == "always":
        await interaction.response.defer()
    async with bot.sessions() as session:
        rows = (
            await session.execute(
                select(BadgeRow.name, AwardRow.awarded_at)
                .join(BadgeRow, BadgeRow.id == AwardRow.badge_id)
                .where(AwardRow.guild_id == interaction.guild_id)
                .where(AwardRow.user_id == target.id)
                .order_by(AwardRow.awarded_at)
            )
        ).all()
    lines = [f"**{name}**, since {discord.utils.format_dt(at, 'd')}" for name, at in rows]
    embed = discord.Embed(
        title=f"{target.display_name}'s badges",
        description="\n".join(lines) or "No badges yet.",
    )
    await reply(interaction, embed=embed)


@badge_group.command(name="award", description="Award a badge to a member")
@app_commands.describe(badge="The badge", member="Who receives it")
async def award(interaction: discord.Interaction, badge: str, member: discord.Member) -> None:
    bot = _bot(interaction)
    actor = interaction.user
    if not isinstance(actor, discord.Member) or not actor.guild_permissions.manage_roles:
        await reply(interaction, content="You need Manage Roles.", ephemeral=True)
        return
    if bot.defer != "never":
        await interaction.response.defer()
    async with bot.sessions() as session:
        row = await session.scalar(
            select(BadgeRow).where(
                BadgeRow.guild_id == interaction.guild_id, BadgeRow.name == badge
            )
        )
        if row is None:
            await reply(interaction, content="No such badge.", ephemeral=True)
            return
        session.add(
            AwardRow(
                badge_id=row.id,
                guild_id=interaction.guild_id,
                user_id=member.id,
                awarded_by=actor.id,
                awarded_at=datetime.now(UTC),
            )
        )
        try:
            await session.commit()
        except IntegrityError:
            await reply(interaction, content="They already have it.", ephemeral=True)
            return
    role = interaction.guild.get_role(row.role_id) if interaction.guild and row.role_id else None
    if role is not None:
        await member.add_roles(role, reason=f"badge {row.name}")
    embed = discord.Embed(description=f"{member.mention} received **{row.name}**")
    await reply(interaction, embed=embed)


class NaiveBot(discord.Client):
    def __init__(self, engine: AsyncEngine, seeds: list[str], defer: str) -> None:
        super().__init__(intents=discord.Intents.default())
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.seeds = seeds
        self.defer = defer
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(badges)
        self.tree.add_command(badge_group)

    async def setup_hook(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with self.sessions() as session:
            for seed in self.seeds:
                guild_id, name, *role = seed.split(":")
                role_id = int(role[0]) if role else None
                session.add(BadgeRow(guild_id=int(guild_id), name=name, role_id=role_id))
            await session.commit()
        await self.tree.sync()


async def run(args: argparse.Namespace) -> None:
    from tests.emulator.seams import set_seams
    from tests.emulator.state import TOKEN

    set_seams(args.rest, args.gateway)
    engine = create_async_engine(args.database)
    bot = NaiveBot(engine, args.badge, args.defer)
    bot._connection.guild_ready_timeout = 0.3  # discord.py waits 2 s for late guilds
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await bot.login(TOKEN)
    task = asyncio.create_task(bot.connect(reconnect=True))
    try:
        async with asyncio.timeout(60):
            await bot.wait_until_ready()
        print("READY", flush=True)
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({stopped, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await bot.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="a naive badge bot (benchmark baseline)")
    parser.add_argument("--rest", required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--badge", action="append", default=[], help="GUILD:NAME[:ROLE_ID]")
    parser.add_argument("--defer", choices=("award", "always", "never"), default="award")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
