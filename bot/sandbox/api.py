"""The REST API of the sandbox: the bot's own service and database served on 127.0.0.1, with
the demo server as the default guild, and a Moderator token the terminal prints.

The server is started by the session (the driver of the simulation), never by bot-owned work:
SimCord owns the bot's tasks and timers (it joins them when the page settles and cancels them
when it detaches the bot), while uvicorn's accept loop and requests must run on the real clock
for as long as the sandbox does. An award made over HTTP commits through the bot's service,
which kicks the bot's role-sync worker at once; its drain applies the role through the
simulated Discord without waiting for anything the page does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import simcord
import uvicorn

from api import create_app
from badges.model import Badge
from badges.permissions import Level
from badges.service import BadgeService
from bot.api_cli import OPERATOR
from bot.api_server import QuietServer
from bot.app import BadgeBot
from bot.sandbox.ports import HOST, PortInUse, bind
from bot.sandbox.world import DemoWorld, display_name

TOKEN_NAME = "Sandbox API"
"""The sandbox's own token: each run revokes the last run's and makes a new one."""
AWARD_REASON = "Sent with curl"
NO_BADGE = "<a badge id from GET /badges>"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
IDLE_TIMEOUT = 5.0


@dataclass(frozen=True)
class SandboxApi:
    """Where the API listens, the token it accepts, and an award worth trying with curl."""

    url: str
    token: str
    badge: Badge | None
    """None when a visitor deleted every badge: the curl then says where to find an id."""
    member_id: int
    member_name: str

    def _auth(self) -> str:
        return shlex.quote(f"Authorization: Bearer {self.token}")

    def award_curl(self) -> str:
        """A ready-to-paste curl awarding ``badge`` to the member."""
        badge_id = self.badge.id if self.badge is not None else NO_BADGE
        body = {"badgeId": badge_id, "userId": str(self.member_id), "reason": AWARD_REASON}
        return (
            f"curl -X POST {self.url}/badges/award \\\n"
            f"      -H {self._auth()} \\\n"
            "      -H 'Content-Type: application/json' \\\n"
            f"      -d {shlex.quote(json.dumps(body))}"
        )

    def member_badges_curl(self) -> str:
        """A ready-to-paste curl listing the member's badges."""
        return f"curl -H {self._auth()} {self.url}/badges/users/{self.member_id}"


async def issue_token(service: BadgeService, guild_id: int) -> str:
    """A fresh Moderator token for the demo server; the previous run's stops working."""
    for token in await service.tokens.list(OPERATOR, guild_id):
        if token.name == TOKEN_NAME:
            await service.tokens.revoke(OPERATOR, guild_id, token.id)
    issued = await service.tokens.create(OPERATOR, guild_id, Level.MODERATOR, TOKEN_NAME)
    return issued.secret


async def example_award(
    service: BadgeService, world: DemoWorld
) -> tuple[Badge | None, simcord.MemberActor]:
    """The badge and member of the printed curl: the badge linked to the Helpers role, so the
    award shows as a role (else another linked one, else any), and the first demo member who
    does not hold it yet."""
    guild_id = world.guild.id
    badges = (await service.catalog.list(guild_id, active=True, limit=100)).items
    linked = [b for b in badges if b.role_id == world.helpers_role.id]
    others = [b for b in badges if b.role_id is not None]
    badge = next(iter(linked or others or badges), None)
    if badge is None:
        return None, world.members[-1]
    for member in world.members:
        held = (await service.awards.of_member(guild_id, member.id, limit=100)).items
        if all(item.badge.id != badge.id for item in held):
            return badge, member
    return badge, world.members[-1]


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while not server.started:
        if task.done():
            task.result()  # its error, if it has one
            raise RuntimeError("the sandbox's API stopped while starting")
        if loop.time() > deadline:
            raise RuntimeError(f"the sandbox's API did not start within {START_TIMEOUT:.0f} s")
        await asyncio.sleep(0.01)


async def _stop(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=STOP_TIMEOUT)
    except TimeoutError:
        server.force_exit = True
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


@asynccontextmanager
async def serve_api(world: DemoWorld, port: int | None = None) -> AsyncIterator[SandboxApi]:
    """Serve the REST API of the sandbox's bot on HOST:``port`` (None: a free port) until the
    block ends. Raises PortInUse when the port is taken."""
    bot = world.env.bot
    assert isinstance(bot, BadgeBot)
    try:
        sock = bind(port or 0)
    except OSError as exc:
        raise PortInUse(port or 0) from exc
    try:
        bound = int(sock.getsockname()[1])
        settings = bot.settings.model_copy(
            update={"api_host": HOST, "api_port": bound, "api_default_guild": world.guild.id}
        )
        app = create_app(settings, service=bot.service, database=bot.database)
        config = uvicorn.Config(
            app, log_level="warning", log_config=None, access_log=False, lifespan="on"
        )
        server = QuietServer(config)
        # Made here, by the driver: the server's work is no bot-owned work of SimCord's.
        task = asyncio.create_task(server.serve(sockets=[sock]), name="sandbox-api")
        try:
            await _started(server, task)
            token = await issue_token(bot.service, world.guild.id)
            badge, member = await example_award(bot.service, world)
            url = f"http://{HOST}:{bound}"
            yield SandboxApi(url, token, badge, member.id, display_name(member))
        finally:
            await _stop(server, task)
            # Role changes the API's last requests kicked off finish before SimCord
            # detaches the bot they go through.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bot.role_sync.wait_idle(), timeout=IDLE_TIMEOUT)
    finally:
        sock.close()
