"""/badge api-token ...: tokens for the REST API, made and revoked by admins."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from badges.permissions import Level, Operation
from bot.ui.replies import defer, responds, send, send_lines
from bot.ui.text import cut, inert
from cogs.badges import guild_id_of
from cogs.options import choices_for, picked_id
from cogs.subcommands import BadgeSubcommands

if TYPE_CHECKING:
    from bot.app import BadgeBot


class TokenLevel(Enum):
    moderator = "moderator"
    admin = "admin"

    @property
    def level(self) -> Level:
        return Level[self.name.upper()]


async def _token_choices(
    interaction: discord.Interaction, value: str
) -> list[app_commands.Choice[str]]:
    return await choices_for(
        interaction,
        Operation.MANAGE_TOKENS,
        lambda bot, actor, guild_id: bot.service.tokens.list(actor, guild_id),
        lambda t: f"{t.name} ({t.level.label})",
        lambda t: t.id,
        value,
    )


class ApiTokenCommands(BadgeSubcommands):
    api_token = app_commands.Group(name="api-token", description="Tokens for the REST API (admins)")

    @responds(ephemeral=True)
    @api_token.command(name="create", description="Make a REST API token (shown once)")
    @app_commands.describe(
        level="What the token may do: moderator (award, revoke) or admin (also edit badges)",
        name="Who uses it (shown as the actor in history and the log channel)",
    )
    async def create(
        self,
        interaction: discord.Interaction,
        level: TokenLevel,
        name: app_commands.Range[str, 1, 100],
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.MANAGE_TOKENS)
        await defer(interaction, ephemeral=True)
        issued = await self.service.tokens.create(
            actor, guild_id_of(interaction), level.level, name
        )
        await send(
            interaction,
            content=(
                f"API token **{inert(issued.token.name)}** ({issued.token.level.label}) made. "
                "Copy it now: it is shown only this once.\n"
                f"```\n{issued.secret}\n```"
                "Send it as `Authorization: Bearer <token>`. Revoke it with "
                "/badge api-token revoke."
            ),
            ephemeral=True,
        )

    @responds(ephemeral=True)
    @api_token.command(name="list", description="The server's REST API tokens")
    async def list_tokens(self, interaction: discord.Interaction) -> None:
        actor = await self.bot.actor(interaction, Operation.MANAGE_TOKENS)
        await defer(interaction, ephemeral=True)
        tokens = await self.service.tokens.list(actor, guild_id_of(interaction))
        if not tokens:
            await send(
                interaction,
                content="No API tokens yet: make one with /badge api-token create.",
                ephemeral=True,
            )
            return
        lines = [f"**API tokens** ({len(tokens)})"] + [
            f"• {inert(cut(t.name, 64))}: {t.level.label}, made "
            f"{discord.utils.format_dt(t.created_at, 'R')} by {inert(cut(t.created_by_name, 64))}"
            for t in tokens
        ]
        await send_lines(interaction, lines, ephemeral=True)

    @responds(ephemeral=True)
    @api_token.command(name="revoke", description="Revoke a REST API token at once")
    @app_commands.describe(token="The token (pick it from the list)")
    @app_commands.autocomplete(token=_token_choices)
    async def revoke(self, interaction: discord.Interaction, token: str) -> None:
        actor = await self.bot.actor(interaction, Operation.MANAGE_TOKENS)
        token_id = picked_id(token, "token")
        await defer(interaction, ephemeral=True)
        revoked = await self.service.tokens.revoke(actor, guild_id_of(interaction), token_id)
        await send(
            interaction,
            content=f"API token **{inert(revoked.name)}** is revoked: its next request is refused.",
            ephemeral=True,
        )


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(ApiTokenCommands(bot))
