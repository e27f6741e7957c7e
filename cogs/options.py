"""Option types shared by the badge commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands

from badges.model import Badge

if TYPE_CHECKING:
    from bot.app import BadgeBot

CLEAR = "-"
"""Typed in an edit option, clears that field."""


class BadgeTransformer(app_commands.Transformer):
    """A badge option: typed as name or slug in any case, autocompleted from memory."""

    async def transform(self, interaction: discord.Interaction, value: str) -> Badge:
        bot = cast("BadgeBot", interaction.client)
        assert interaction.guild_id is not None  # every command is guild_only
        return await bot.service.find_badge(interaction.guild_id, value)

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        bot = cast("BadgeBot", interaction.client)
        entries = await bot.catalog.suggest(interaction.guild_id, value)
        return [app_commands.Choice(name=e.name, value=e.slug) for e in entries]


BadgeArg = app_commands.Transform[Badge, BadgeTransformer]


def cleared(value: str | None) -> str | None:
    """``-`` means "clear this field"."""
    return None if value is not None and value.strip() == CLEAR else value
