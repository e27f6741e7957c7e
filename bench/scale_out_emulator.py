"""The Discord emulator in a process of its own for bench/scale_out.py, with three routes more
than ``python -m tests.emulator`` (tests.emulator.control's routes are there as well):

- ``POST /_emulator/scale/build``: ``{"guilds", "members", "shards"}``: guild n on shard
  ``n % shards``, each with a role "Regular" and ``members`` members (the same users in every
  guild, as on Discord); answers ``[[guild id, role id, shard], ...]`` and the member ids.
- ``POST /_emulator/scale/global``: ``{"limit"}``: Discord's global limit from now on (0: none).
- ``GET /_emulator/scale/calls``: every member-role request so far as ``[at, guild id, status,
  global 429]`` and every request under the global limit as its arrival time.

    python -m bench.scale_out_emulator --port 0 --limit "member role add=10/1" --global-limit 50

Prints ``LISTENING <port>`` once it accepts connections. Times are ``time.monotonic()``, the
same clock in every process of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from aiohttp import web

from tests.emulator.__main__ import _limit
from tests.emulator.control import add_control_routes
from tests.emulator.limits import RouteLimit, json_response
from tests.emulator.server import UNLIMITED_GLOBAL, DiscordEmulator


class ScaleEmulator(DiscordEmulator):
    """Counts the 429s the global limit answers (the call log does not tell them apart)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.global_429: list[tuple[float, str]] = []

    def _limit(self, request: web.Request, route: str, now: float) -> web.Response | None:
        response = super()._limit(request, route, now)
        if response is not None and response.headers.get("X-RateLimit-Global") == "true":
            self.global_429.append((now, request.path))
        return response


def add_scale_routes(emu: ScaleEmulator) -> None:
    async def build(request: web.Request) -> web.Response:
        body = await request.json()
        shards, count, members = int(body["shards"]), int(body["guilds"]), int(body["members"])
        users = [emu.create_user(f"member{i}") for i in range(members)]
        rows = []
        for n in range(count):
            guild = emu.create_guild(f"guild {n}", shard=(n % shards, shards))
            role = guild.add_role("Regular")
            for user in users:
                guild.add_member(user)
            rows.append([str(guild.id), str(role.id), n % shards])
        return json_response(200, {"guilds": rows, "members": [str(u.id) for u in users]})

    async def set_global(request: web.Request) -> web.Response:
        limit = int((await request.json())["limit"])
        emu.global_limit = limit
        emu.global_bucket.limit = limit or 1
        return json_response(200, {"global_limit": limit})

    async def calls(request: web.Request) -> web.Response:
        global_paths = {(at, path) for at, path in emu.global_429}
        roles = [
            [c.at, c.path.split("/")[4], c.status, (c.at, c.path) in global_paths]
            for c in emu.calls
            if c.route.startswith("member role")
        ]
        under_global = [c.at for c in emu.calls if c.route not in UNLIMITED_GLOBAL]
        other = [[c.at, c.route, c.status] for c in emu.calls if not c.route.startswith("member")]
        return json_response(200, {"roles": roles, "global": under_global, "other": other})

    emu.add_routes(
        [
            ("POST", "/_emulator/scale/build", build),
            ("POST", "/_emulator/scale/global", set_global),
            ("GET", "/_emulator/scale/calls", calls),
        ]
    )


async def serve(port: int, limits: dict[str, RouteLimit], global_limit: int) -> None:
    emu = ScaleEmulator(limits=limits, global_limit=global_limit, port=port)
    add_control_routes(emu)
    add_scale_routes(emu)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await emu.start()
    try:
        print(f"LISTENING {emu.port}", flush=True)
        await stop.wait()
    finally:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(emu.stop(), 5)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out_emulator")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--limit", type=_limit, action="append", default=[])
    parser.add_argument("--global-limit", type=int, default=50)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, dict(args.limit), args.global_limit))


if __name__ == "__main__":
    main()
