"""Interactions as the emulator sends and tracks them: INTERACTION_CREATE payloads built from
the commands the bot synced (so a test cannot invoke a command the bot never registered), and
each interaction's life: when it was sent, acknowledged and answered, and every message of the
reply, with Discord's 3-second deadline (10062 after it) and single acknowledgement (40060).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tests.emulator.state import APP_ID, Guild, snowflake

DEADLINE = 3.0
FOLLOWUP_WINDOW = 15 * 60.0
EPHEMERAL = 1 << 6
# callback types
PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE, AUTOCOMPLETE, MODAL = 1, 4, 5, 6, 7, 8, 9
# option types
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
)
MENTIONABLE, NUMBER = 9, 10


class CommandNotSynced(LookupError):
    """The test asked for a command or option the bot never registered with Discord."""


@dataclass
class Reply:
    """One message of an interaction's reply."""

    id: int
    content: str
    embeds: list[dict[str, Any]]
    flags: int
    components: list[dict[str, Any]]
    at: float

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def text(self) -> str:
        """Content and embed text together, for assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            for f in embed.get("fields") or ():
                parts += [f.get("name") or "", f.get("value") or ""]
            parts.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)


@dataclass
class Interaction:
    """One interaction the emulator dispatched, and what the bot did with it."""

    id: int
    token: str
    kind: int
    guild_id: int
    channel_id: int
    user_id: int
    name: str
    sent_at: float
    acked_at: float | None = None
    ack_type: int | None = None
    ack_ephemeral: bool = False
    completed_at: float | None = None
    replies: list[Reply] = field(default_factory=list)
    original: Reply | None = None
    refused: list[int] = field(default_factory=list)  # error codes sent back to the bot
    choices: list[dict[str, Any]] = field(default_factory=list)  # autocomplete
    modal: dict[str, Any] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ack_latency(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.sent_at

    @property
    def completion_latency(self) -> float | None:
        return None if self.completed_at is None else self.completed_at - self.sent_at

    @property
    def ephemeral(self) -> bool:
        """Whether the (first) reply is private."""
        first = self.original or (self.replies[0] if self.replies else None)
        return first.ephemeral if first is not None else self.ack_ephemeral

    @property
    def text(self) -> str:
        shown = [self.original] if self.original else []
        return "\n".join(r.text for r in [*shown, *self.replies] if r is not None)

    def expired(self, now: float) -> bool:
        return now - self.sent_at > DEADLINE

    def complete(self, now: float) -> None:
        if self.completed_at is None:
            self.completed_at = now
        self.done.set()

    async def wait(self, within: float = 10.0) -> Interaction:
        """Wait until a reply with content arrived (or an autocomplete or modal answer), or
        Discord refused a response after the deadline (10062)."""
        await asyncio.wait_for(self.done.wait(), within)
        return self


def find_command(commands: list[dict[str, Any]], path: str) -> tuple[dict[str, Any], list[str]]:
    """The synced top-level command for ``path`` ("badge award") and the subcommand names."""
    first, *rest = path.split()
    for command in commands:
        if command["name"] == first and command.get("type", 1) == 1:
            return command, rest
    raise CommandNotSynced(f"/{first} was never synced")


def build_options(
    command: dict[str, Any], subs: list[str], values: dict[str, Any], guild: Guild, focused: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ``options`` tree and ``resolved`` data for ``values``, typed by the synced schema."""
    resolved: dict[str, dict[str, Any]] = {}
    schema = command.get("options") or []
    chain: list[dict[str, Any]] = []
    for name in subs:
        option = next((o for o in schema if o["name"] == name and o["type"] in (1, 2)), None)
        if option is None:
            raise CommandNotSynced(f"/{command['name']} has no subcommand {name!r}")
        chain.append(option)
        schema = option.get("options") or []
    leaf: list[dict[str, Any]] = []
    known = {o["name"]: o for o in schema}
    for name, value in values.items():
        if name not in known:
            raise CommandNotSynced(f"/{command['name']} {' '.join(subs)} has no option {name!r}")
        leaf.append(_option(known[name], value, guild, resolved, focused == name))
    missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
    if missing and not focused:
        raise CommandNotSynced(f"required options missing: {', '.join(missing)}")
    options = leaf
    for option in reversed(chain):
        options = [{"type": option["type"], "name": option["name"], "options": options}]
    return options, resolved


def _option(
    schema: dict[str, Any],
    value: Any,
    guild: Guild,
    resolved: dict[str, dict[str, Any]],
    focused: bool,
) -> dict[str, Any]:
    kind = schema["type"]
    option: dict[str, Any] = {"type": kind, "name": schema["name"]}
    if focused:
        option["focused"] = True
        option["value"] = str(value)
        return option
    if kind in (USER, MENTIONABLE, ROLE, CHANNEL):
        snowflake_id = int(getattr(value, "id", value))
        option["value"] = str(snowflake_id)
        if snowflake_id in guild.roles:
            resolved.setdefault("roles", {})[str(snowflake_id)] = guild.roles[
                snowflake_id
            ].payload()
        elif snowflake_id in guild.channels:
            channel = guild.channels[snowflake_id].payload()
            channel["permissions"] = "0"
            resolved.setdefault("channels", {})[str(snowflake_id)] = channel
        elif snowflake_id in guild.members:
            member = guild.members[snowflake_id]
            resolved.setdefault("users", {})[str(snowflake_id)] = member.user.payload()
            data = member.payload(with_user=False)
            data["permissions"] = str(guild.permissions(snowflake_id))
            resolved.setdefault("members", {})[str(snowflake_id)] = data
        else:
            raise LookupError(f"{snowflake_id} is no member, role or channel of the guild")
    elif kind == INTEGER:
        option["value"] = int(value)
    elif kind == NUMBER:
        option["value"] = float(value)
    elif kind == BOOLEAN:
        option["value"] = bool(value)
    else:
        option["value"] = str(value)
    return option


def interaction_payload(
    guild: Guild,
    *,
    kind: int,
    user_id: int,
    channel_id: int,
    data: dict[str, Any],
    message: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], int, str]:
    """An INTERACTION_CREATE payload; returns it with the interaction's id and token."""
    interaction_id = snowflake()
    token = "emu-" + secrets.token_urlsafe(48)
    member = guild.members[user_id]
    member_data = member.payload()
    member_data["permissions"] = str(guild.permissions(user_id))
    channel = guild.channels[channel_id].payload()
    channel["permissions"] = str(guild.permissions(user_id))
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(APP_ID),
        "type": kind,
        "data": data,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        "channel_id": str(channel_id),
        "channel": channel,
        "member": member_data,
        "token": token,
        "version": 1,
        "app_permissions": str(guild.permissions(APP_ID)),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": 8 * 1024 * 1024,
    }
    if message is not None:
        payload["message"] = message
    return payload, interaction_id, token


def message_payload(
    reply: Reply, *, channel_id: int, author: dict[str, Any], interaction: Interaction | None
) -> dict[str, Any]:
    """A message object for the bot (interaction replies, channel messages)."""
    data: dict[str, Any] = {
        "id": str(reply.id),
        "channel_id": str(channel_id),
        "author": author,
        "content": reply.content,
        "timestamp": "2026-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": reply.embeds,
        "pinned": False,
        "type": 0 if interaction is None else 20,
        "flags": reply.flags,
        "components": reply.components,
    }
    if interaction is not None:
        data["interaction_metadata"] = {
            "id": str(interaction.id),
            "type": interaction.kind,
            "user": {
                "id": str(interaction.user_id),
                "username": "user",
                "discriminator": "0",
                "avatar": None,
                "global_name": None,
            },
            "authorizing_integration_owners": {"0": str(interaction.guild_id)},
        }
        data["application_id"] = str(APP_ID)
    return data


def now() -> float:
    return time.monotonic()
