"""The two seams where tests and benchmarks point discord.py at the emulator: REST's
``Route.BASE`` and the gateway's ``DiscordWebSocket.DEFAULT_GATEWAY``. Set only here; the
seam test fails first if a discord.py upgrade renames them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import discord.gateway
import discord.http
import yarl

if TYPE_CHECKING:
    from tests.emulator.server import DiscordEmulator


def set_seams(rest_base: str, gateway: str) -> tuple[str, yarl.URL]:
    """Point discord.py at ``rest_base`` (``http://127.0.0.1:PORT/api/v10``) and ``gateway``
    (``ws://127.0.0.1:PORT/``); returns the previous values. Fails loudly if a seam is gone."""
    route = discord.http.Route
    socket = discord.gateway.DiscordWebSocket
    if not isinstance(getattr(route, "BASE", None), str):
        raise RuntimeError("discord.http.Route.BASE is gone: discord.py changed its REST seam")
    if not isinstance(getattr(socket, "DEFAULT_GATEWAY", None), yarl.URL):
        raise RuntimeError(
            "DiscordWebSocket.DEFAULT_GATEWAY is gone: discord.py changed its gateway seam"
        )
    old = (route.BASE, socket.DEFAULT_GATEWAY)
    route.BASE = rest_base
    socket.DEFAULT_GATEWAY = yarl.URL(gateway)
    return old


@contextmanager
def point_at(target: DiscordEmulator | tuple[str, str]) -> Iterator[None]:
    """Within the block, discord.py's REST calls and gateway connections go to ``target``
    (an emulator, or ``(rest_base, gateway_url)``); the previous values come back after."""
    rest, gateway = target if isinstance(target, tuple) else (target.base_url, target.gateway_url)
    old_rest, old_gateway = set_seams(rest, gateway)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_rest
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
