"""What the sandbox tells its visitor: in the terminal, and in the channel itself."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.world import DemoWorld, display_name


def terminal_guide(url: str, world: DemoWorld, database: Path) -> str:
    """The address of the page and a few things to try, printed once the page is up."""
    admin = display_name(world.admin)
    moderator = display_name(world.moderator)
    member = display_name(world.members[0])
    return f"""\
badgebot sandbox: the real bot on a simulated Discord server, "{world.guild.name}".

Open this page in your browser (the part after # is a secret key: keep it to yourself):

    {url}

Pick who you are under "Viewing as" (the owner, an admin, a moderator or a member),
then type in the message box as in Discord, and pick options from the lists:
    /badge list       the demo badges
    /badges           your badges, or pick a member to see theirs
    /badge award      as {moderator}: pick a badge and a member, add a reason
    /badge create     as {admin}: your own badge, with an emoji and a colour
    /badge info       "Trusted Helper": its role opens #helpers-lounge
    /badge holders, /badge history, /badge revoke, /badge edit, /badge doctor ...
Try /badge award as {member} too: members may not award, and the bot says so.

Badges are kept in {database} (start over with --fresh). Ctrl-C stops the sandbox.
"""


def channel_welcome(world: DemoWorld) -> str:
    """The bot's first message in the channel, so the page is never blank."""
    admin = display_name(world.admin)
    moderator = display_name(world.moderator)
    return (
        "👋 **Welcome to the badgebot sandbox**: the real bot, on a simulated server.\n"
        "Pick who you are under **Viewing as** (the owner, an admin, a moderator or a member), "
        "then type `/` below and pick a command: `/badge list`, `/badges`, "
        f"`/badge award` as {moderator}, `/badge create` as {admin}."
    )
