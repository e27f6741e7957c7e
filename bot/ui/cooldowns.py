"""Discord-style cooldowns for commands and buttons whose replies are public."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import discord
from discord import app_commands

T = TypeVar("T", bound=Callable[..., Any])


class Cooldowns:
    """Discord-style cooldowns per member: at most ``rate`` uses per ``per`` seconds. Public
    replies (embeds in the channel) use them so one member cannot flood a channel."""

    def __init__(self, rate: int = 3, per: float = 15.0) -> None:
        self.rate = rate
        self.per = per
        self._uses: dict[tuple[str, int], list[float]] = {}

    def retry_after(self, key: str, user_id: int) -> float:
        """Count a use; 0 if it is allowed, else the seconds to wait."""
        now = time.monotonic()
        uses = [t for t in self._uses.get((key, user_id), []) if now - t < self.per]
        if len(uses) >= self.rate:
            self._uses[(key, user_id)] = uses
            return self.per - (now - uses[0])
        uses.append(now)
        self._uses[(key, user_id)] = uses
        if len(self._uses) > 50_000:  # forget quiet members now and then
            self._uses = {k: v for k, v in self._uses.items() if now - v[-1] < self.per}
        return 0.0


def of(client: discord.Client) -> Cooldowns:
    """The client's cooldowns (one set per bot, so tests and bots never share them)."""
    found = getattr(client, "cooldowns", None)
    if not isinstance(found, Cooldowns):
        found = Cooldowns()
        client.cooldowns = found  # type: ignore[attr-defined]
    return found


def public_cooldown(key: str) -> Callable[[T], T]:
    """A check for a command with a public reply: a member over the rate is told to wait."""

    async def predicate(interaction: discord.Interaction) -> bool:
        cooldowns = of(interaction.client)
        wait = cooldowns.retry_after(key, interaction.user.id)
        if wait > 0:
            raise app_commands.CommandOnCooldown(
                app_commands.Cooldown(cooldowns.rate, cooldowns.per), wait
            )
        return True

    return app_commands.check(predicate)
