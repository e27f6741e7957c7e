"""A login that fails after setup_hook ran (Discord gone between the login and the command
sync) is tried again by `badgebot run`, and setup_hook runs a second time: it must pick up
where it was, not fail on what it did already."""

from __future__ import annotations

from bot.app import create_bot
from bot.config import Settings
from db.database import Database
from tests.emulator import DiscordEmulator, point_at


async def test_setup_hook_may_run_twice(emu: DiscordEmulator, database: Database) -> None:
    settings = Settings(_env_file=None, discord_token=emu.token)  # type: ignore[call-arg]
    bot = create_bot(settings, database=database)
    with point_at(emu):
        try:
            await bot.login(emu.token)  # runs setup_hook
            extensions = set(bot.extensions)
            commands = len(bot.tree.get_commands())
            listening = bot._stop_listening
            await bot.setup_hook()  # as a retried login would
            assert set(bot.extensions) == extensions
            assert len(bot.tree.get_commands()) == commands
            assert bot._stop_listening is listening, "one change-feed listener, not two"
            assert bot.follow_changes.is_running()
            assert bot.send_webhooks.is_running()
        finally:
            await bot.close()
