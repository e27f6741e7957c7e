"""Option types shared by the badge commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar, cast

import discord
from discord import app_commands

from badges.automation import Awarders
from badges.errors import BadgeError
from badges.model import Badge
from badges.permissions import Actor, Level, Operation
from badges.service.catalog import BadgeIndex
from bot.ui.replies import UserFacingError, acknowledge
from bot.ui.text import cut, inert

if TYPE_CHECKING:
    from bot.app import BadgeBot

T = TypeVar("T")

CLEAR = "-"
"""Typed in an edit option, clears that field."""


class BadgeTransformer(app_commands.Transformer):
    """A badge option: typed as name or slug in any case, found and autocompleted from
    memory. Found before the command acknowledges, so it must not wait for the database:
    with the guild's badges not in memory, the command acknowledges first, then reads them.
    Its holder count may lag (read the badge afresh to show it)."""

    async def transform(self, interaction: discord.Interaction, value: str) -> Badge:
        bot = cast("BadgeBot", interaction.client)
        assert interaction.guild_id is not None  # every command is guild_only
        return (await badge_index(bot, interaction)).find(value)

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        bot = cast("BadgeBot", interaction.client)
        command = interaction.command
        if command is not None and command.qualified_name == "badge award":
            # members see only the badges they may give (the service checks it again)
            actor = await bot.actor(interaction)
            if actor.level < Level.MODERATOR:
                givable = await givable_badges(bot, actor, interaction.guild_id)
                allowed = {slug for _, slug in givable}
                entries = await bot.catalog.suggest(interaction.guild_id, value, limit=10_000)
                return [
                    app_commands.Choice(name=e.name, value=e.slug)
                    for e in entries
                    if e.slug in allowed
                ][:25]
        entries = await bot.catalog.suggest(interaction.guild_id, value)
        return [app_commands.Choice(name=e.name, value=e.slug) for e in entries]


BadgeArg = app_commands.Transform[Badge, BadgeTransformer]


async def badge_index(bot: BadgeBot, interaction: discord.Interaction) -> BadgeIndex:
    """The guild's badges from memory; if they are not there, acknowledge first (with the
    command's privacy), then read them."""
    assert interaction.guild_id is not None  # every command is guild_only
    index = bot.catalog.peek(interaction.guild_id)
    if index is None:
        await acknowledge(interaction)
        index = await bot.catalog.get(interaction.guild_id)
    return index


async def givable_badges(
    bot: BadgeBot, actor: Actor, guild_id: int, interaction: discord.Interaction | None = None
) -> list[tuple[str, str]]:
    """(name, slug) of the badges ``actor`` may award, from memory (a hint: the service
    decides). With ``interaction``, acknowledge it first if memory does not hold them."""
    if interaction is not None and (
        bot.catalog.peek(guild_id) is None or bot.policy_cache.peek(guild_id) is None
    ):
        await acknowledge(interaction)
    entries = await bot.catalog.entries(guild_id)
    if actor.level >= Level.MODERATOR:
        return [(e.name, e.slug) for e in entries]
    policies = await bot.policy_cache.get(guild_id)
    return [
        (e.name, e.slug)
        for e in entries
        if (policy := policies.get(e.slug)) is not None
        and (policy.awarders is Awarders.MEMBERS or policy.role_id in actor.role_ids)
    ]


def cleared(value: str | None) -> str | None:
    """``-`` means "clear this field"."""
    return None if value is not None and value.strip() == CLEAR else value


class GatedChannelTransformer(app_commands.Transformer):
    """A gated channel, offered by name from the guild's gates: Discord's own channel picker
    lists only channels the admin can see, and a gate may hide it from them."""

    async def transform(
        self, interaction: discord.Interaction, value: str
    ) -> discord.abc.GuildChannel:
        guild = interaction.guild
        assert guild is not None  # every command is guild_only
        text = value.strip().removeprefix("<#").removesuffix(">").lstrip("#")
        channel = guild.get_channel(int(text)) if text.isdigit() else None
        if channel is None:
            matches = [c for c in guild.channels if c.name.casefold() == text.casefold()]
            channel = matches[0] if len(matches) == 1 else None
        if channel is None:
            raise UserFacingError(
                f"I found no channel named '{inert(cut(text, 60))}': pick one from the list."
            )
        return channel

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        guild = interaction.guild
        if guild is None:
            return []
        bot = cast("BadgeBot", interaction.client)
        needle = value.strip().lstrip("#").casefold()
        choices: dict[int, str] = {}
        for gate in await bot.gate_cache.get(guild.id):
            channel = guild.get_channel(gate.channel_id)
            name = channel.name if channel is not None else str(gate.channel_id)
            if needle in name.casefold():
                choices[gate.channel_id] = name
        return [
            app_commands.Choice(name=f"#{name}"[:100], value=str(cid))
            for cid, name in list(choices.items())[:25]
        ]


GatedChannelArg = app_commands.Transform[discord.abc.GuildChannel, GatedChannelTransformer]


def picked_id(value: str, what: str) -> int:
    """The id behind an autocomplete pick; anything typed instead is refused."""
    text = value.strip()
    if not text.isdigit() or int(text) >= 2**63:
        raise UserFacingError(f"Pick the {what} from the list.")
    return int(text)


async def choices_for(
    interaction: discord.Interaction,
    operation: Operation,
    load: Callable[[BadgeBot, Actor, int], Awaitable[Sequence[T]]],
    label: Callable[[T], str],
    ident: Callable[[T], int],
    typed: str,
) -> list[app_commands.Choice[str]]:
    """Autocomplete from what ``load`` lists, offered only to those allowed ``operation``
    (others see nothing); an entry matches when its label contains what was typed."""
    bot = cast("BadgeBot", interaction.client)
    if interaction.guild_id is None:
        return []
    try:
        actor = await bot.actor(interaction, operation)
        entries = await load(bot, actor, interaction.guild_id)
    except (BadgeError, UserFacingError):
        return []
    needle = typed.strip().casefold()
    return [
        app_commands.Choice(name=cut(label(e), 100), value=str(ident(e)))
        for e in entries
        if needle in label(e).casefold()
    ][:25]
