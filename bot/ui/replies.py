"""Responding to interactions: defer once, reply once, and render every error in one place.

Errors are always ephemeral. Whether a reply is ephemeral is fixed when it is deferred, so each
command declares its privacy once (``responds``). A command decides what it can from memory
(caches of badges, settings and levels), refusing at once with an ephemeral response, then
defers and only then reads or writes the database: the acknowledgement never waits for storage.
A cold cache acknowledges first (``acknowledge``), with the command's privacy, then loads. A
refusal that only the write can decide comes after a public deferral: the "thinking" message is
removed and the refusal sent privately.

Order in which ``report_error`` handles an error:
1. a domain error (``BadgeError``): its message, as is;
2. a refusal raised by the adapter itself (``UserFacingError``): its message;
3. discord.py's own check and option errors: a sentence saying what to fix;
4. anything else: a short apology with an error id; the traceback goes to the log only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord
from discord import app_commands

from badges.errors import BadgeError, Forbidden, RoleRefused
from badges.permissions import Level
from bot import metrics
from bot.roles.checks import hint as role_hint
from bot.ui.text import cut, inert

log = logging.getLogger(__name__)

_EPHEMERAL = "badgebot_ephemeral"
_PRIVACY = "badgebot_privacy"
UNKNOWN_INTERACTION = 10062
"""Discord's code for an interaction whose token expired (not acknowledged within 3 s)."""

C = TypeVar("C")
T = TypeVar("T")


_HOW_TO_GET: dict[object, str] = {
    Level.MODERATOR: " An admin can give your role that level with /badge config set-role.",
    Level.ADMIN: " The server owner can give your role that level with /badge config set-role.",
    Level.SUPER_ADMIN: " Only the server owner or a member with Administrator can.",
    "manage_roles": " Ask for a role with Manage Roles (Server Settings > Roles).",
}
# What this adapter adds to the domain's plain refusals: the command that fixes it.
_HINTS = {
    "role_not_linked": " Link one with /badge link-role.",
    "role_already_linked": " Unlink it with /badge unlink-role first.",
    "gates_remain": " /badge info shows them; remove each with /badge ungate.",
    "level_role_conflict": " Unlink it with /badge unlink-role first.",
    "discord_unavailable": " Try again in a minute.",
}


class UserFacingError(Exception):
    """A refusal decided in the Discord adapter (a bot account, a DM, ...)."""


def responds(*, ephemeral: bool) -> Callable[[C], C]:
    """Declare a command's privacy: whether its reply (and so its deferral) is ephemeral.
    Put it above ``app_commands.command``."""

    def declare(command: C) -> C:
        extras = getattr(command, "extras", None)
        if not isinstance(extras, dict):
            raise TypeError("@responds goes above @app_commands.command")
        extras[_PRIVACY] = ephemeral
        return command

    return declare


def declare_privacy(interaction: discord.Interaction, *, ephemeral: bool) -> None:
    """Declare the privacy of an interaction that has no command (a modal, a button)."""
    interaction.extras[_PRIVACY] = ephemeral


def declared_privacy(interaction: discord.Interaction) -> bool | None:
    """Whether the reply to ``interaction`` is ephemeral, as declared; None if undeclared."""
    if (declared := interaction.extras.get(_PRIVACY)) is not None:
        return bool(declared)
    return privacy_of(interaction.command)


def privacy_of(command: object) -> bool | None:
    """What ``responds`` declared for a command; None if nothing."""
    declared = (getattr(command, "extras", None) or {}).get(_PRIVACY)
    return None if declared is None else bool(declared)


def acknowledged(interaction: discord.Interaction) -> None:
    """Time from the interaction's creation to the first response, for /metrics."""
    metrics.acknowledged(interaction.created_at, interaction.extras)


async def defer(interaction: discord.Interaction, *, ephemeral: bool) -> None:
    """Acknowledge now (Discord allows 3 seconds); the reply follows with ``send``. If this
    fails (the token expired, Discord refused) it raises: nothing may be done after it."""
    if not interaction.response.is_done():  # privacy is fixed by the first deferral
        interaction.extras[_EPHEMERAL] = ephemeral
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        acknowledged(interaction)


QUICK_READ = 0.15
"""Seconds a read-only command waits for its read before it defers: a quick read is answered
with one response instead of a deferral and a follow-up (far inside Discord's 3 s)."""


async def read_or_defer(
    interaction: discord.Interaction,
    read: Awaitable[T],
    *,
    ephemeral: bool,
    within: float = QUICK_READ,
) -> T:
    """Run ``read`` (it must write nothing); if it has not finished ``within`` seconds, defer
    while it goes on. The reply then (``send``) is the response itself when the read was quick.
    Only for commands whose refusals were all decided before: a refusal after a public deferral
    would replace the thinking message."""
    task = asyncio.ensure_future(read)
    if not interaction.response.is_done():
        done, _ = await asyncio.wait({task}, timeout=within)
        if not done:
            try:
                await defer(interaction, ephemeral=ephemeral)
            except BaseException:
                task.cancel()
                raise
    return await task


async def acknowledge(interaction: discord.Interaction) -> None:
    """Defer with the command's declared privacy before a read memory could not answer (a
    cold cache). Autocomplete cannot be deferred: it only reads then."""
    if interaction.type is discord.InteractionType.autocomplete:
        return
    if interaction.response.is_done():
        return
    ephemeral = declared_privacy(interaction)
    await defer(interaction, ephemeral=True if ephemeral is None else ephemeral)


async def send(interaction: discord.Interaction, **kwargs: Any) -> int | None:
    """The reply: completes a deferred response or responds directly. Later messages of a
    reply keep the privacy it was deferred with. Returns the message's id, if Discord said."""
    if interaction.response.is_done():
        kwargs.setdefault("ephemeral", interaction.extras.get(_EPHEMERAL, False))
        message = await interaction.followup.send(wait=True, **kwargs)
        return message.id
    answered = await interaction.response.send_message(**kwargs)
    acknowledged(interaction)
    return answered.message_id if answered is not None else None


MESSAGE_LIMIT = 2000


def split_lines(lines: list[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join lines into messages of at most ``limit`` characters, never cutting a line
    unless one line alone is longer than a message."""
    messages: list[str] = []
    current = ""
    for line in lines:
        while len(line) > limit:
            messages.extend([current] if current else [])
            current = ""
            messages.append(line[:limit])
            line = line[limit:]
        if current and len(current) + 1 + len(line) > limit:
            messages.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        messages.append(current)
    return messages


async def send_lines(interaction: discord.Interaction, lines: list[str], **kwargs: Any) -> None:
    """A reply that may be longer than one message: the rest follows in more messages."""
    for text in split_lines(lines):
        await send(interaction, content=text, **kwargs)


def describe(error: BaseException) -> str | None:
    """The user-facing sentence for an error, or None if it is a bug."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        inner = error.__cause__ if isinstance(error, app_commands.TransformerError) else None
        if isinstance(error, app_commands.CommandInvokeError):
            inner = error.original
        if isinstance(inner, BadgeError | UserFacingError):
            return describe(inner)
        if isinstance(error, app_commands.TransformerError) and inner is not None:
            return None  # the transformer failed (storage, Discord): a bug, not the input
        if isinstance(error, app_commands.TransformerError):
            shown = inert(cut(str(error.value), 60))
            return f"'{shown}' is not a valid {error.type.name.lower()} here."
        return None
    if isinstance(error, Forbidden):
        return inert(error.message) + _HOW_TO_GET.get(error.required, "")
    if isinstance(error, RoleRefused):
        return inert(error.message) + role_hint(error.reason)
    if isinstance(error, BadgeError):
        return inert(error.message) + _HINTS.get(error.code, "")
    if isinstance(error, UserFacingError):
        return str(error)
    if isinstance(error, app_commands.NoPrivateMessage):
        return "Badges belong to a server: use this command in a server channel."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {max(1, round(error.retry_after))} seconds."
    if isinstance(error, app_commands.BotMissingPermissions):
        missing = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"I am missing a permission here: {missing}. Ask an admin to grant it."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You cannot use this command here."
    return None


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the user what went wrong, ephemerally; log bugs with an id they can quote.
    An interaction that expired before it was acknowledged can be told nothing: one warning."""
    if expired(error):
        log.warning(
            "%s was not acknowledged in time (10062 Unknown interaction); nothing was done",
            _where(interaction),
        )
        return
    message = describe(error)
    if message is None:
        error_id = secrets.token_hex(4)
        original = getattr(error, "original", error)
        log.error(
            "error %s in %s",
            error_id,
            _where(interaction),
            exc_info=(type(original), original, original.__traceback__),
        )
        message = (
            f"Sorry, something went wrong on my side (error id `{error_id}`). "
            "It has been logged; please try again later."
        )
    try:
        await _send_error(interaction, cut(message, MESSAGE_LIMIT))
    except discord.HTTPException:
        log.warning("could not deliver an error reply in %s", _where(interaction), exc_info=True)


async def _send_error(interaction: discord.Interaction, message: str) -> None:
    if not interaction.response.is_done():
        await interaction.response.send_message(message, ephemeral=True)
        acknowledged(interaction)
        return
    deferred_ephemeral = interaction.extras.get(_EPHEMERAL, True)
    if not deferred_ephemeral and interaction.type in _THINKING_TYPES:
        # The "thinking" message is public, and while it thinks a followup only edits it
        # (keeping it public): complete it, remove it, then say the error privately.
        with contextlib.suppress(discord.HTTPException):
            await interaction.edit_original_response(content=_NOT_DONE)
            await interaction.delete_original_response()
    await interaction.followup.send(message, ephemeral=True)


_THINKING_TYPES = (
    discord.InteractionType.application_command,
    discord.InteractionType.modal_submit,
)
_NOT_DONE = "Not done."
"""What a public "thinking" message says for the instant before it is removed."""


def expired(error: BaseException) -> bool:
    """Whether ``error`` is (or wraps) Discord's 10062: the interaction's token is dead."""
    original = _original(error)
    return isinstance(original, discord.NotFound) and original.code == UNKNOWN_INTERACTION


def _original(error: BaseException) -> BaseException:
    if isinstance(error, app_commands.CommandInvokeError):
        return _original(error.original)
    if isinstance(error, app_commands.TransformerError) and error.__cause__ is not None:
        return _original(error.__cause__)
    return error


def _where(interaction: discord.Interaction) -> str:
    name = interaction.command.qualified_name if interaction.command else interaction.type.name
    return f"/{name} (guild {interaction.guild_id}, user {interaction.user.id})"
