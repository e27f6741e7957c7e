"""The two places where tests and benchmarks point discord.py at our own Discord emulator.
If a discord.py upgrade renames them, this fails before any emulator run does."""

from __future__ import annotations

import discord
import discord.gateway
import discord.http

from bench.discord_emulator import use_emulator


def test_rest_base_seam_exists_and_is_restored() -> None:
    before = discord.http.Route.BASE
    assert before.startswith("https://discord.com/api/v")
    with use_emulator("http://127.0.0.1:9/api/v10"):
        assert discord.http.Route.BASE == "http://127.0.0.1:9/api/v10"
        route = discord.http.Route("GET", "/users/@me")
        assert route.url == "http://127.0.0.1:9/api/v10/users/@me"
    restored = discord.http.Route.BASE
    assert restored == before


def test_gateway_seam_exists() -> None:
    assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY.scheme == "wss"
