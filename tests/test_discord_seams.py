"""The two places where tests and benchmarks point discord.py at our own Discord emulator
(``tests.emulator.point_at``). If a discord.py upgrade renames either, this fails before any
emulator run does."""

from __future__ import annotations

import discord.gateway
import discord.http
import yarl

from tests.emulator import point_at


def test_both_seams_exist_are_set_and_restored() -> None:
    rest_before = discord.http.Route.BASE
    gateway_before = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    assert rest_before.startswith("https://discord.com/api/v")
    assert gateway_before.scheme == "wss"
    with point_at(("http://127.0.0.1:9/api/v10", "ws://127.0.0.1:9/")):
        assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
        assert yarl.URL("ws://127.0.0.1:9/") == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    assert rest_before == discord.http.Route.BASE
    assert gateway_before == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


def test_webhooks_and_interaction_callbacks_use_the_same_rest_seam() -> None:
    """Interaction responses go through discord.webhook, which builds the same Route."""
    import discord.webhook.async_ as webhooks

    assert webhooks.Route is discord.http.Route
