"""The command tree: one error handler, and a sync that runs only when commands changed."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.ui.replies import report_error

if TYPE_CHECKING:
    from bot.app import BadgeBot

log = logging.getLogger(__name__)


class BadgeTree(app_commands.CommandTree["BadgeBot"]):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)


def tree_hash(tree: app_commands.CommandTree[BadgeBot], guild: discord.Object | None) -> str:
    """A stable hash of the payload Discord would receive for this scope."""
    payload = [cmd.to_dict(tree) for cmd in tree.get_commands(guild=guild)]
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
