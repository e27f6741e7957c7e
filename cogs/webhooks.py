"""/badge webhook ...: URLs that receive this server's badge and award changes (admins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from badges.permissions import Operation
from bot.ui.replies import defer, responds, send, send_lines
from bot.ui.text import cut, inert
from cogs.badges import guild_id_of
from cogs.options import choices_for, picked_id
from cogs.subcommands import BadgeSubcommands

if TYPE_CHECKING:
    from bot.app import BadgeBot


async def _webhook_choices(
    interaction: discord.Interaction, value: str
) -> list[app_commands.Choice[str]]:
    return await choices_for(
        interaction,
        Operation.CONFIGURE,
        lambda bot, actor, guild_id: bot.service.webhooks.list(actor, guild_id),
        lambda w: w.url,
        lambda w: w.id,
        value,
    )


class WebhookCommands(BadgeSubcommands):
    webhook = app_commands.Group(
        name="webhook", description="Send badge changes to another service (admins)"
    )

    @responds(ephemeral=True)
    @webhook.command(name="add", description="Send this server's badge changes to a URL")
    @app_commands.describe(url="An https:// URL of your service (public addresses only)")
    async def add(
        self, interaction: discord.Interaction, url: app_commands.Range[str, 1, 600]
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.CONFIGURE)
        await defer(interaction, ephemeral=True)
        issued = await self.service.webhooks.add(actor, guild_id_of(interaction), url)
        await send(
            interaction,
            content=(
                f"Badge changes now go to <{inert(issued.webhook.url)}>. Its signing secret, "
                "shown only this once:\n"
                f"```\n{issued.secret}\n```"
                "Each delivery carries `Badgebot-Signature: t=<time>,v1=<HMAC-SHA256 of "
                '"<time>.<body>" with this secret>`: check it, and refuse old times.'
            ),
            ephemeral=True,
        )

    @responds(ephemeral=True)
    @webhook.command(name="list", description="Where this server's badge changes go")
    async def list_webhooks(self, interaction: discord.Interaction) -> None:
        actor = await self.bot.actor(interaction, Operation.CONFIGURE)
        await defer(interaction, ephemeral=True)
        hooks = await self.service.webhooks.list(actor, guild_id_of(interaction))
        if not hooks:
            await send(
                interaction,
                content="No webhooks yet: add one with /badge webhook add.",
                ephemeral=True,
            )
            return
        lines = [f"**Webhooks** ({len(hooks)})"] + [
            f"• <{inert(cut(w.url, 200))}>, added "
            f"{discord.utils.format_dt(w.created_at, 'R')} by {inert(cut(w.created_by_name, 64))}"
            for w in hooks
        ]
        await send_lines(interaction, lines, ephemeral=True)

    @responds(ephemeral=True)
    @webhook.command(name="remove", description="Stop sending badge changes to a URL")
    @app_commands.describe(webhook="The webhook (pick it from the list)")
    @app_commands.autocomplete(webhook=_webhook_choices)
    async def remove(self, interaction: discord.Interaction, webhook: str) -> None:
        actor = await self.bot.actor(interaction, Operation.CONFIGURE)
        webhook_id = picked_id(webhook, "webhook")
        await defer(interaction, ephemeral=True)
        removed = await self.service.webhooks.remove(actor, guild_id_of(interaction), webhook_id)
        await send(
            interaction,
            content=f"Badge changes no longer go to <{inert(removed.url)}>.",
            ephemeral=True,
        )


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(WebhookCommands(bot))
