"""Page buttons over the wire: when their view times out it disables them through the
reply's webhook and message id (the view no longer keeps the whole interaction)."""

from __future__ import annotations

from badges.permissions import Actor, Level
from bot.ui.views import Paginator
from tests.e2e.conftest import Live

OWNER = Actor(2, "e2e owner", Level.SUPER_ADMIN, manages_roles=True)


async def test_a_timed_out_page_view_disables_its_buttons(live: Live) -> None:
    members = [await live.emu.add_member(live.guild, f"holder{i}") for i in range(30)]
    badge = await live.bot.service.catalog.create(OWNER, live.guild.id, name="Many")
    await live.bot.service.awards.bulk_award(
        OWNER, live.guild.id, badge.id, [m.user.id for m in members]
    )
    shown = await live.emu.invoke(live.guild, live.bob.user.id, "badge holders", badge="Many")
    await shown.wait()
    reply = shown.original
    assert reply is not None
    assert any(not c.get("disabled") for row in reply.components for c in row["components"])
    views = [
        v
        for v in live.bot._connection._view_store._synced_message_views.values()
        if isinstance(v, Paginator)
    ]
    assert len(views) == 1
    (view,) = views
    assert view.origin is None, "the view keeps the webhook and message id, not the interaction"
    await view.on_timeout()
    assert reply.components
    assert all(c.get("disabled") for row in reply.components for c in row["components"])
