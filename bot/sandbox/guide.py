"""What the sandbox tells its visitor: in the terminal, and in the channel itself."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.api import SandboxApi
from bot.sandbox.world import DemoWorld, display_name


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def api_guide(api: SandboxApi, world: DemoWorld) -> str:
    """The API's address, its token and two curl commands to paste."""
    role = world.helpers_role.name
    if api.badge is None:
        award = f"Award a badge to {api.member_name} (every badge is gone: make one on the page):"
    elif api.badge.role_id == world.helpers_role.id:
        name = api.member_name
        award = (
            f'Award "{api.badge.name}" to {name}, and the bot gives {name} the {role} role at '
            "once\n(it opens #helpers-lounge); on the page, /badges with member "
            f"{name} shows the badge:"
        )
    else:
        award = f'Award "{api.badge.name}" to {api.member_name}:'
    return f"""\
The bot's REST API for "{world.guild.name}" answers on {api.url}
(routes at the root act on this server; reference at {api.url}/docs).
A Moderator token, new on every run (the last run's no longer works):

    {api.token}

{award}

{_indent(api.award_curl())}

{api.member_name}'s badges:

{_indent(api.member_badges_curl())}
"""


def terminal_guide(url: str, world: DemoWorld, database: Path, api: SandboxApi) -> str:
    """The address of the page, the API and a few things to try, printed once both are up."""
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
Try /badge award as {member} too: members may not award most badges, and the bot says so;
but they give each other "Kudos" (/badge award, or Apps > Give badge on a member).
Send 5 messages as {member}: "Chatterbox" awards itself (see /badge progress).

{api_guide(api, world)}
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
