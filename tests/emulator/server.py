"""The emulator: one aiohttp server on 127.0.0.1 with the REST API under ``/api/v10`` and the
gateway at ``/``, over one shared model of guilds (tests.emulator.state).

Tests and benchmarks drive it in process: ``create_guild``, ``add_member``, ``invoke`` (a slash
command as a member would run it), ``click`` (a button), faults (``storm``, ``latency``,
``gateway.drop``, ``refuse_resumes``, ``go_down``/``come_back``), a hook on every accepted
role change (``on_role_change``), and read what happened:
``calls`` (every REST request), ``interactions``, the guilds' state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.emulator import interactions as ix
from tests.emulator.gateway import Gateway, Session
from tests.emulator.limits import DEFAULT_LIMITS, Bucket, RouteLimit, error, json_response, too_many
from tests.emulator.state import (
    APP_ID,
    BOT_ID,
    BOT_USER,
    OWNER_ID,
    TOKEN,
    Guild,
    Member,
    Overwrite,
    User,
    new_guild,
    snowflake,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNLIMITED_GLOBAL = ("interaction callback", "webhook")  # not under the global limit
EXTRA_PREFIX = "/_emulator/"  # routes added with add_routes: no REST plumbing, no limits


@dataclass(frozen=True)
class Call:
    """One REST request as the emulator answered it."""

    at: float  # time.monotonic() on arrival
    method: str
    path: str
    route: str
    status: int
    code: int | None = None


class DiscordEmulator:
    """REST API v10 and gateway on one port of 127.0.0.1."""

    def __init__(
        self,
        *,
        limits: dict[str, RouteLimit] | None = None,
        global_limit: int = 50,
        port: int = 0,
    ) -> None:
        self.limits = DEFAULT_LIMITS | (limits or {})
        self.global_limit = global_limit  # requests per second over all routes; 0: none
        self.global_bucket = Bucket("global", global_limit or 1, 1.0)
        self.token = TOKEN
        self.port = port
        self.guilds: dict[int, Guild] = {}
        self.users: dict[int, User] = {BOT_ID: BOT_USER}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None: global)
        self.calls: list[Call] = []
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.interactions: dict[int, ix.Interaction] = {}
        self._by_token: dict[str, ix.Interaction] = {}
        self.channel_messages: dict[int, list[ix.Reply]] = {}
        self.latencies: dict[str, float] = {}
        self.storms: Counter[str] = Counter()
        self.refused_roles: set[int] = set()  # role ids Discord answers 50013 for
        self.overlaps: list[str] = []  # role requests that arrived while one was in flight
        self._in_flight: set[str] = set()
        self.on_role_change: Callable[[str, Guild, Member, int], None] | None = None
        """Called with (method, guild, member, role id) each time Discord accepts a member
        role PUT or DELETE, after the member's roles changed and before the 204 is sent
        (e.g. to kill the bot between Discord's change and the bot hearing of it)."""
        self.base_url = ""
        self.gateway_url = ""
        self.gateway = Gateway(
            ready=self._guild_creates, ready_payload=self._ready, members=self._find_members
        )
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._extra_routes: list[tuple[str, str, Handler]] = []

    def add_routes(self, routes: list[tuple[str, str, Handler]]) -> None:
        """More routes under ``/_emulator/`` (tests.emulator.control), added before ``start``;
        they bypass auth, rate limits and the call log."""
        assert self._runner is None, "add routes before start()"
        for _method, path, _handler in routes:
            assert path.startswith(EXTRA_PREFIX), path
        self._extra_routes += routes

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        # 64 MiB, not aiohttp's 1 MiB: a benchmark's schedule (bench/interactions.py, 15,750
        # commands on the ramp) is one POST to the control routes
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 2**20)
        app.router.add_get("/", self.gateway.handle)
        for method, path, handler in self._routes():
            app.router.add_route(method, "/api/v10" + path, handler)
        for method, path, handler in self._extra_routes:
            app.router.add_route(method, path, handler)
        # stop() closes every socket first; a handler still open after 2 s is cut off
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await self._runner.setup()
        await self._listen(self.port)

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True)
        await self._site.start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{self.port}/api/v10"
        self.gateway_url = f"ws://127.0.0.1:{self.port}/"

    async def go_down(self) -> None:
        """Discord unreachable: stop listening (connections are refused) and drop sockets."""
        self.gateway.down = True
        await self.gateway.drop(code=1001)
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def come_back(self) -> None:
        """Listen again on the same port."""
        self.gateway.down = False
        await self._listen(self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self.gateway.drop(code=1001)
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the model -----------------------------------------------------------------------

    def create_user(self, name: str, *, bot: bool = False) -> User:
        user = User(snowflake(), name, bot=bot)
        self.users[user.id] = user
        return user

    def create_guild(
        self,
        name: str = "Emulated",
        *,
        owner: User | None = None,
        shard: tuple[int, int] | None = None,
    ) -> Guild:
        """A guild the bot is in (it arrives as GUILD_CREATE when the bot identifies); with
        ``shard=(shard_id, shard_count)`` its id falls on that shard."""
        owner = owner or self.users.get(OWNER_ID) or User(OWNER_ID, "owner")
        self.users[owner.id] = owner
        guild_id = snowflake()
        if shard is not None:
            shard_id, count = shard
            guild_id += ((shard_id - (guild_id >> 22)) % count) << 22
        guild = new_guild(name, owner=owner, guild_id=guild_id)
        self.guilds[guild.id] = guild
        return guild

    async def add_member(
        self, guild: Guild, name: str, *, roles: set[int] | None = None, bot: bool = False
    ) -> Member:
        """A member joins (GUILD_MEMBER_ADD to the bot, with the members intent)."""
        member = guild.add_member(self.create_user(name, bot=bot), roles)
        data = member.payload() | {"guild_id": str(guild.id)}
        await self.gateway.dispatch("GUILD_MEMBER_ADD", data, guild_id=guild.id)
        return member

    async def remove_member(self, guild: Guild, user_id: int) -> None:
        member = guild.members.pop(user_id)
        data = {"guild_id": str(guild.id), "user": member.user.payload()}
        await self.gateway.dispatch("GUILD_MEMBER_REMOVE", data, guild_id=guild.id)

    async def set_member_roles(self, guild: Guild, user_id: int, roles: set[int]) -> None:
        """Someone edits a member's roles by hand (GUILD_MEMBER_UPDATE)."""
        guild.members[user_id].roles = set(roles)
        await self._member_updated(guild, user_id)

    async def move_role(self, guild: Guild, role_id: int, position: int) -> None:
        """Drag a role to ``position`` (GUILD_ROLE_UPDATE for every role that moved)."""
        before = {r.id: r.position for r in guild.roles.values()}
        guild.move_role(role_id, position)
        for role in guild.roles.values():
            if before.get(role.id) != role.position:
                await self.gateway.dispatch(
                    "GUILD_ROLE_UPDATE",
                    {"guild_id": str(guild.id), "role": role.payload()},
                    guild_id=guild.id,
                )

    def member_roles(self, guild: Guild, user_id: int) -> set[int]:
        return set(guild.members[user_id].roles)

    # -- faults --------------------------------------------------------------------------

    def storm(self, route: str, count: int) -> None:
        """Answer the next ``count`` requests of ``route`` with 429 (per-route, with Via)."""
        self.storms[route] += count

    def latency(self, route: str, seconds: float) -> None:
        """Add ``seconds`` before answering requests of ``route`` ("*" for all)."""
        self.latencies[route] = seconds

    # -- interactions --------------------------------------------------------------------

    def synced(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        return self.commands.get(guild_id, []) + ([] if guild_id is None else self.synced(None))

    async def invoke(
        self,
        guild: Guild,
        user_id: int,
        command: str,
        *,
        channel_id: int | None = None,
        **options: Any,
    ) -> ix.Interaction:
        """A member runs ``/command`` (e.g. "badge award") with ``options``, as Discord would
        send it: only commands the bot synced exist."""
        return await self._command(guild, user_id, command, channel_id, options, focused="")

    async def autocomplete(
        self, guild: Guild, user_id: int, command: str, focused: str, **options: Any
    ) -> ix.Interaction:
        """A member types into option ``focused``; the bot answers with choices."""
        return await self._command(guild, user_id, command, None, options, focused=focused)

    async def _command(
        self,
        guild: Guild,
        user_id: int,
        path: str,
        channel_id: int | None,
        options: dict[str, Any],
        *,
        focused: str,
    ) -> ix.Interaction:
        command, subs = ix.find_command(self.synced(guild.id), path)
        tree, resolved = ix.build_options(command, subs, options, guild, focused)
        data: dict[str, Any] = {
            "id": command["id"],
            "name": command["name"],
            "type": 1,
            "options": tree,
            "guild_id": str(guild.id),
        }
        if resolved:
            data["resolved"] = resolved
        kind = 4 if focused else 2
        return await self._dispatch_interaction(guild, user_id, channel_id, kind, data, None, path)

    async def click(
        self,
        interaction: ix.Interaction,
        user_id: int,
        custom_id: str,
        *,
        values: list[str] | None = None,
    ) -> ix.Interaction:
        """A member clicks a button (or picks ``values`` in a select) on ``interaction``'s reply."""
        reply = interaction.original or interaction.replies[-1]
        guild = self.guilds[interaction.guild_id]
        author = BOT_USER.payload()
        message = ix.message_payload(
            reply, channel_id=interaction.channel_id, author=author, interaction=interaction
        )
        data: dict[str, Any] = {
            "custom_id": custom_id,
            "component_type": 2 if values is None else 3,
        }
        if values is not None:
            data["values"] = values
        return await self._dispatch_interaction(
            guild, user_id, interaction.channel_id, 3, data, message, f"click {custom_id}"
        )

    async def _dispatch_interaction(
        self,
        guild: Guild,
        user_id: int,
        channel_id: int | None,
        kind: int,
        data: dict[str, Any],
        message: dict[str, Any] | None,
        name: str,
    ) -> ix.Interaction:
        channel_id = channel_id or next(iter(guild.channels))
        payload, interaction_id, token = ix.interaction_payload(
            guild, kind=kind, user_id=user_id, channel_id=channel_id, data=data, message=message
        )
        record = ix.Interaction(
            interaction_id, token, kind, guild.id, channel_id, user_id, name, ix.now()
        )
        self.interactions[interaction_id] = record
        self._by_token[token] = record
        await self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild.id)
        return record

    # -- gateway payloads ----------------------------------------------------------------

    def _ready(self, session: Session) -> dict[str, Any]:
        return {
            "v": 10,
            "user": BOT_USER.payload() | {"verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds if session.owns(g)],
            "session_id": session.id,
            "resume_gateway_url": self.gateway_url,
            "shard": list(session.shard),
            "application": {"id": str(APP_ID), "flags": 0},
            "user_settings": {},
            "private_channels": [],
            "relationships": [],
        }

    def _guild_creates(self, session: Session) -> list[dict[str, Any]]:
        """Like Discord: a large guild (more members than the client's ``large_threshold``)
        comes without its member list; the client asks for chunks (op 8)."""
        return [
            guild.payload(with_members=len(guild.members) <= session.large_threshold)
            for guild in self.guilds.values()
            if session.owns(guild.id)
        ]

    def _find_members(
        self, guild_id: int, user_ids: list[int] | None, query: str, limit: int
    ) -> list[dict[str, Any]]:
        guild = self.guilds[guild_id]
        if user_ids is not None:
            found = [guild.members[u] for u in user_ids if u in guild.members]
        else:
            found = [m for m in guild.members.values() if m.user.name.startswith(query)]
            found = found[:limit] if limit else found
        return [m.payload() for m in found]

    async def _member_updated(self, guild: Guild, user_id: int) -> None:
        data = guild.members[user_id].payload() | {"guild_id": str(guild.id)}
        await self.gateway.dispatch("GUILD_MEMBER_UPDATE", data, guild_id=guild.id)

    # -- REST plumbing -------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/" or request.path.startswith(EXTRA_PREFIX):
            return await handler(request)
        arrived = time.monotonic()
        route = _route_name(request)
        target = request.path if route.startswith("member role") else None
        if target is not None:
            if target in self._in_flight:
                self.overlaps.append(target)  # two requests for one member and role at once
            self._in_flight.add(target)
        try:
            return await self._answer(request, handler, route, arrived)
        finally:
            if target is not None:
                self._in_flight.discard(target)

    async def _answer(
        self, request: web.Request, handler: Handler, route: str, arrived: float
    ) -> web.StreamResponse:
        delay = self.latencies.get(route, self.latencies.get("*", 0.0))
        if delay:
            await asyncio.sleep(delay)
        response = self._limit(request, route, arrived)
        if response is None:
            try:
                response = await handler(request)
            except Refusal as refusal:
                response = refusal.response
            if isinstance(response, web.Response) and route in self._bucket_routes:
                response.headers.update(self._bucket(request, route).headers(arrived))
        code = None
        if isinstance(response, web.Response) and response.body and response.status >= 400:
            with contextlib.suppress(ValueError, TypeError):
                code = json.loads(bytes(response.body)).get("code")  # type: ignore[arg-type]
        self.calls.append(Call(arrived, request.method, request.path, route, response.status, code))
        return response

    _bucket_routes = frozenset(DEFAULT_LIMITS)

    def _bucket(self, request: web.Request, route: str) -> Bucket:
        info = request.match_info
        major = info.get("g") or info.get("c") or info.get("token") or ""
        key = (route, major)
        if key not in self.buckets:
            limit = self.limits.get(route, self.limits["other"])
            self.buckets[key] = Bucket(route, limit.limit, limit.window)
        return self.buckets[key]

    def role_bucket(self, guild_id: int, action: str = "add") -> Bucket:
        """The member-role bucket of one guild ("add" or "remove")."""
        key = (f"member role {action}", str(guild_id))
        limit = self.limits[key[0]]
        return self.buckets.setdefault(key, Bucket(key[0], limit.limit, limit.window))

    def _limit(self, request: web.Request, route: str, now: float) -> web.Response | None:
        """401 without our token, then the global limit, storms, and the route's bucket."""
        if route not in UNLIMITED_GLOBAL:
            if request.headers.get("Authorization") != f"Bot {self.token}":
                return error(401, 0, "401: Unauthorized")
            if self.global_limit and not self.global_bucket.take(now):
                wait = self.global_bucket.reset_after(now)
                return too_many(wait, {}, scope="global")
        bucket = self._bucket(request, route)
        if self.storms[route] > 0:
            self.storms[route] -= 1
            return too_many(
                0.05, bucket.headers(now) | {"X-RateLimit-Remaining": "0"}, scope="shared"
            )
        if not bucket.take(now):
            return too_many(bucket.reset_after(now), bucket.headers(now))
        return None

    def _guild(self, request: web.Request) -> Guild:
        guild = self.guilds.get(int(request.match_info["g"]))
        if guild is None:
            raise _discord_error(404, 10004, "Unknown Guild")
        return guild

    def _member(self, guild: Guild, request: web.Request) -> Member:
        member = guild.members.get(int(request.match_info["u"]))
        if member is None:
            raise _discord_error(404, 10007, "Unknown Member")
        return member

    def _channel(self, request: web.Request) -> tuple[Guild, int]:
        channel_id = int(request.match_info["c"])
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild, channel_id
        raise _discord_error(404, 10003, "Unknown Channel")

    # -- REST routes ---------------------------------------------------------------------

    def _routes(self) -> list[tuple[str, str, Handler]]:
        member_role = "/guilds/{g}/members/{u}/roles/{r}"
        webhook = "/webhooks/{app}/{token}"
        return [
            ("GET", "/users/@me", self._me),
            ("GET", "/users/{u}", self._user),
            ("GET", "/oauth2/applications/@me", self._application),
            ("GET", "/applications/@me", self._application),
            ("GET", "/gateway", self._gateway_info),
            ("GET", "/gateway/bot", self._gateway_info),
            ("GET", "/applications/{app}/commands", self._get_commands),
            ("PUT", "/applications/{app}/commands", self._put_commands),
            ("GET", "/applications/{app}/guilds/{g}/commands", self._get_commands),
            ("PUT", "/applications/{app}/guilds/{g}/commands", self._put_commands),
            ("PUT", member_role, self._member_role),
            ("DELETE", member_role, self._member_role),
            ("GET", "/guilds/{g}", self._get_guild),
            ("GET", "/guilds/{g}/members/{u}", self._get_member),
            ("GET", "/guilds/{g}/members", self._list_members),
            ("GET", "/guilds/{g}/roles", self._list_roles),
            ("POST", "/guilds/{g}/roles", self._create_role),
            ("PATCH", "/guilds/{g}/roles/{r}", self._edit_role),
            ("DELETE", "/guilds/{g}/roles/{r}", self._delete_role),
            ("GET", "/guilds/{g}/channels", self._list_channels),
            ("GET", "/channels/{c}", self._get_channel),
            ("PUT", "/channels/{c}/permissions/{o}", self._put_overwrite),
            ("DELETE", "/channels/{c}/permissions/{o}", self._delete_overwrite),
            ("POST", "/channels/{c}/messages", self._post_message),
            ("POST", "/interactions/{iid}/{token}/callback", self._callback),
            ("POST", webhook, self._followup),
            ("GET", webhook + "/messages/{m}", self._get_reply),
            ("PATCH", webhook + "/messages/{m}", self._edit_reply),
            ("DELETE", webhook + "/messages/{m}", self._delete_reply),
        ]

    async def _me(self, request: web.Request) -> web.Response:
        return json_response(200, BOT_USER.payload() | {"verified": True, "flags": 0})

    async def _user(self, request: web.Request) -> web.Response:
        user = self.users.get(int(request.match_info["u"]))
        if user is None:
            return error(404, 10013, "Unknown User")
        return json_response(200, user.payload())

    async def _application(self, request: web.Request) -> web.Response:
        owner = User(OWNER_ID, "owner").payload()
        return json_response(
            200,
            {
                "id": str(APP_ID),
                "name": "badgebot",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": owner,
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
            },
        )

    async def _gateway_info(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return json_response(
            200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}
        )

    async def _get_commands(self, request: web.Request) -> web.Response:
        guild = request.match_info.get("g")
        return json_response(200, self.commands.get(int(guild) if guild else None, []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite: Discord answers with the commands and their ids."""
        guild = request.match_info.get("g")
        key = int(guild) if guild else None
        previous = {c["name"]: c["id"] for c in self.commands.get(key, [])}
        defaults = {"description": "", "options": [], "nsfw": False, "integration_types": [0]}
        synced = [
            {
                **defaults,
                **command,
                "id": previous.get(command["name"]) or str(snowflake()),
                "application_id": str(APP_ID),
                "version": str(snowflake()),
                **({"guild_id": guild} if guild else {}),
            }
            for command in await request.json()
        ]
        self.commands[key] = synced
        return json_response(200, synced)

    async def _member_role(self, request: web.Request) -> web.StreamResponse:
        guild = self._guild(request)
        member = self._member(guild, request)
        role_id = int(request.match_info["r"])
        if role_id not in guild.roles:
            return error(404, 10011, "Unknown Role")
        if role_id in self.refused_roles or not guild.can_manage(role_id):
            return error(403, 50013, "Missing Permissions")
        before = set(member.roles)
        if request.method == "PUT":
            member.roles.add(role_id)
        else:
            member.roles.discard(role_id)
        if member.roles != before:
            await self._member_updated(guild, member.user.id)
        if self.on_role_change is not None:
            self.on_role_change(request.method, guild, member, role_id)
        return web.Response(status=204)

    async def _get_guild(self, request: web.Request) -> web.Response:
        data = self._guild(request).payload(with_members=False)
        for key in ("members", "channels", "threads", "voice_states", "presences"):
            data.pop(key, None)
        return json_response(200, data)

    async def _get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response(200, self._member(guild, request).payload())

    async def _list_members(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        limit = min(1000, int(request.query.get("limit", "1")))
        after = int(request.query.get("after", "0"))
        members = sorted(
            (m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id
        )
        return json_response(200, [m.payload() for m in members[:limit]])

    async def _list_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response(200, [r.payload() for r in guild.roles.values()])

    async def _create_role(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if not guild.permissions(BOT_ID) & (1 << 28):
            return error(403, 50013, "Missing Permissions")
        body = await request.json() if request.can_read_body else {}
        role = guild.add_role(
            body.get("name") or "new role",
            permissions=int(body.get("permissions") or 0),
            color=int(body.get("color") or 0),
        )
        await self.gateway.dispatch(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(guild.id), "role": role.payload()},
            guild_id=guild.id,
        )
        return json_response(200, role.payload())

    async def _edit_role(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        role = guild.roles.get(int(request.match_info["r"]))
        if role is None:
            return error(404, 10011, "Unknown Role")
        if not guild.can_manage(role.id):
            return error(403, 50013, "Missing Permissions")
        body = await request.json()
        role.name = body.get("name", role.name)
        if "permissions" in body:
            role.permissions = int(body["permissions"])
        if "color" in body:
            role.color = int(body["color"] or 0)
        await self.gateway.dispatch(
            "GUILD_ROLE_UPDATE",
            {"guild_id": str(guild.id), "role": role.payload()},
            guild_id=guild.id,
        )
        return json_response(200, role.payload())

    async def _delete_role(self, request: web.Request) -> web.StreamResponse:
        guild = self._guild(request)
        role_id = int(request.match_info["r"])
        if role_id not in guild.roles:
            return error(404, 10011, "Unknown Role")
        if not guild.can_manage(role_id):
            return error(403, 50013, "Missing Permissions")
        del guild.roles[role_id]
        for member in guild.members.values():
            member.roles.discard(role_id)
        await self.gateway.dispatch(
            "GUILD_ROLE_DELETE",
            {"guild_id": str(guild.id), "role_id": str(role_id)},
            guild_id=guild.id,
        )
        return web.Response(status=204)

    async def _list_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response(200, [c.payload() for c in guild.channels.values()])

    async def _get_channel(self, request: web.Request) -> web.Response:
        guild, channel_id = self._channel(request)
        return json_response(200, guild.channels[channel_id].payload())

    async def _put_overwrite(self, request: web.Request) -> web.StreamResponse:
        guild, channel_id = self._channel(request)
        if not guild.permissions(BOT_ID) & (1 << 28):
            return error(403, 50013, "Missing Permissions")
        body = await request.json()
        target = int(request.match_info["o"])
        channel = guild.channels[channel_id]
        channel.overwrites[target] = Overwrite(
            target,
            int(body.get("type", 0)),
            int(body.get("allow") or 0),
            int(body.get("deny") or 0),
        )
        await self.gateway.dispatch("CHANNEL_UPDATE", channel.payload(), guild_id=guild.id)
        return web.Response(status=204)

    async def _delete_overwrite(self, request: web.Request) -> web.StreamResponse:
        guild, channel_id = self._channel(request)
        channel = guild.channels[channel_id]
        channel.overwrites.pop(int(request.match_info["o"]), None)
        await self.gateway.dispatch("CHANNEL_UPDATE", channel.payload(), guild_id=guild.id)
        return web.Response(status=204)

    async def _post_message(self, request: web.Request) -> web.Response:
        guild, channel_id = self._channel(request)
        reply = _reply_from(await _body(request), at=ix.now())
        self.channel_messages.setdefault(channel_id, []).append(reply)
        data = ix.message_payload(
            reply, channel_id=channel_id, author=BOT_USER.payload(), interaction=None
        )
        data["guild_id"] = str(guild.id)
        await self.gateway.dispatch("MESSAGE_CREATE", data, guild_id=guild.id)
        return json_response(200, data)

    # -- interaction responses -----------------------------------------------------------

    def _interaction(self, request: web.Request) -> ix.Interaction:
        record = self._by_token.get(request.match_info["token"])
        if record is None:
            raise _discord_error(404, 10062, "Unknown interaction")
        return record

    async def _callback(self, request: web.Request) -> web.Response:
        """The first response: within 3 seconds, once."""
        record = self._interaction(request)
        at = ix.now()
        body = await _body(request)
        if record.expired(at):
            record.refused.append(10062)
            record.done.set()  # the interaction is dead: nobody waits for its reply
            return error(404, 10062, "Unknown interaction")
        if record.acked_at is not None:
            record.refused.append(40060)
            return error(400, 40060, "Interaction has already been acknowledged.")
        kind = int(body["type"])
        data = body.get("data") or {}
        record.acked_at, record.ack_type = at, kind
        record.ack_ephemeral = bool(int(data.get("flags") or 0) & ix.EPHEMERAL)
        resource: dict[str, Any] = {"type": kind}
        message_id = None
        if kind in (ix.MESSAGE, ix.DEFERRED_MESSAGE, ix.UPDATE):
            reply = _reply_from(data, at=at)
            message_id = reply.id
            if kind == ix.UPDATE and record.original is not None:
                reply.id = message_id = record.original.id
            record.original = reply
            resource["message"] = self._message(record, reply)
            if kind in (ix.MESSAGE, ix.UPDATE):
                record.complete(at)
        elif kind == ix.AUTOCOMPLETE:
            record.choices = list(data.get("choices") or [])
            record.complete(at)
        elif kind == ix.MODAL:
            record.modal = data
            record.complete(at)
        elif kind == ix.DEFERRED_UPDATE:
            pass
        interaction = {
            "id": str(record.id),
            "type": record.kind,
            "response_message_id": str(message_id) if message_id else None,
            "response_message_loading": kind == ix.DEFERRED_MESSAGE,
            "response_message_ephemeral": record.ack_ephemeral,
        }
        return json_response(200, {"interaction": interaction, "resource": resource})

    def _message(self, record: ix.Interaction, reply: ix.Reply) -> dict[str, Any]:
        return ix.message_payload(
            reply, channel_id=record.channel_id, author=BOT_USER.payload(), interaction=record
        )

    def _followable(self, request: web.Request) -> ix.Interaction:
        record = self._interaction(request)
        if record.acked_at is None:
            raise _discord_error(404, 10015, "Unknown Webhook")
        if ix.now() - record.sent_at > ix.FOLLOWUP_WINDOW:
            raise _discord_error(401, 50027, "Invalid Webhook Token")
        return record

    async def _followup(self, request: web.Request) -> web.Response:
        record = self._followable(request)
        at = ix.now()
        reply = _reply_from(await _body(request), at=at)
        if (
            record.ack_type == ix.DEFERRED_MESSAGE
            and record.original is not None
            and not (record.original.content or record.original.embeds)
        ):
            # the first followup after a "thinking" defer replaces the thinking message
            reply.id = record.original.id
            record.original = reply
        else:
            record.replies.append(reply)
        record.complete(at)
        return json_response(200, self._message(record, reply))

    def _find_reply(self, record: ix.Interaction, message: str) -> ix.Reply:
        if message == "@original":
            if record.original is None:
                raise _discord_error(404, 10008, "Unknown Message")
            return record.original
        for reply in [record.original, *record.replies]:
            if reply is not None and str(reply.id) == message:
                return reply
        raise _discord_error(404, 10008, "Unknown Message")

    async def _get_reply(self, request: web.Request) -> web.Response:
        record = self._followable(request)
        reply = self._find_reply(record, request.match_info["m"])
        return json_response(200, self._message(record, reply))

    async def _edit_reply(self, request: web.Request) -> web.Response:
        record = self._followable(request)
        reply = self._find_reply(record, request.match_info["m"])
        body = await _body(request)
        if "content" in body:
            reply.content = body["content"] or ""
        if "embeds" in body:
            reply.embeds = body["embeds"] or []
        if "components" in body:
            reply.components = body["components"] or []
        reply.at = ix.now()
        if reply.content or reply.embeds:
            record.complete(reply.at)
        return json_response(200, self._message(record, reply))

    async def _delete_reply(self, request: web.Request) -> web.StreamResponse:
        record = self._followable(request)
        reply = self._find_reply(record, request.match_info["m"])
        if reply is record.original:
            record.original = None
        else:
            record.replies.remove(reply)
        return web.Response(status=204)


class Refusal(Exception):
    """Raised by a route: answer with this Discord error."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.response = error(status, code, message)


def _discord_error(status: int, code: int, message: str) -> Refusal:
    return Refusal(status, code, message)


async def _body(request: web.Request) -> dict[str, Any]:
    """A JSON body, or the ``payload_json`` part of a multipart one."""
    if not request.can_read_body:
        return {}
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        raw = form.get("payload_json")
        return json.loads(raw if isinstance(raw, str) else "{}")
    data: dict[str, Any] = await request.json()
    return data


def _reply_from(data: dict[str, Any], *, at: float) -> ix.Reply:
    return ix.Reply(
        id=snowflake(),
        content=data.get("content") or "",
        embeds=list(data.get("embeds") or []),
        flags=int(data.get("flags") or 0),
        components=list(data.get("components") or []),
        at=at,
    )


_ROUTE_NAMES: list[tuple[str | None, re.Pattern[str], str]] = [
    ("PUT", re.compile(r"/guilds/\d+/members/\d+/roles/\d+$"), "member role add"),
    ("DELETE", re.compile(r"/guilds/\d+/members/\d+/roles/\d+$"), "member role remove"),
    (None, re.compile(r"/guilds/\d+/roles"), "roles"),
    (None, re.compile(r"/channels/\d+/permissions/"), "channel permissions"),
    (None, re.compile(r"/channels/\d+/messages"), "messages"),
    (None, re.compile(r"/guilds/\d+/members"), "members"),
    (None, re.compile(r"/applications/\d+/(guilds/\d+/)?commands"), "commands"),
    (None, re.compile(r"/interactions/"), "interaction callback"),
    (None, re.compile(r"/webhooks/"), "webhook"),
]


def _route_name(request: web.Request) -> str:
    path = request.path.removeprefix("/api/v10")
    for method, pattern, name in _ROUTE_NAMES:
        if (method is None or method == request.method) and pattern.search(path):
            return name
    return "other"
