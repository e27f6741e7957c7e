"""Our own Discord emulator, for the wire-level tests and the benchmarks (never the product).

An aiohttp server on 127.0.0.1 that speaks enough of Discord's REST API v10 and websocket
gateway for the real discord.py client: log in, identify and resume, receive guilds, members
and interactions, and make every call the bot makes. It models Discord's rate limits (fixed
windows with ``X-RateLimit-*`` headers, per-route and global 429s with ``Via``), latency per
route, the role hierarchy (50013), the interaction deadline (10062) and double
acknowledgement (40060), and faults: 429 storms, gateway drops with a close code, refused
resumes, and an unreachable Discord.

    async with DiscordEmulator() as emu, point_at(emu):
        guild = emu.create_guild("Test")
        ...  # a discord.py client logged in with emu.token talks to 127.0.0.1
"""

from tests.emulator.seams import point_at
from tests.emulator.server import DiscordEmulator
from tests.emulator.state import APP_ID, BOT_ID, TOKEN, Guild, Member, Role

__all__ = ["APP_ID", "BOT_ID", "TOKEN", "DiscordEmulator", "Guild", "Member", "Role", "point_at"]
