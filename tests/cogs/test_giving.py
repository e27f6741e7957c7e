"""Members giving badges to each other over SimCord: /badge policy, /badge award by a
member, the Give badge context menu, and every refusal."""

from __future__ import annotations

import pytest

from tests.cogs.conftest import World, embed_of, private_text, role_ids, text_of


@pytest.fixture
async def kudos(world: World) -> World:
    w = world
    await w.admin.slash(w.general, "badge create", name="Kudos", icon="🙌")
    await w.admin.slash(w.general, "badge create", name="Staff pick")
    res = await w.admin.slash(w.general, "badge policy", badge="Kudos", awarders="members")
    assert "any member" in text_of(res)
    return w


async def _gifts(w: World, user_id: int) -> list[tuple[str, int]]:
    items = (await w.bot.service.awards.of_member(w.guild.id, user_id)).items
    return [(i.badge.name, i.gifts) for i in items]


async def test_a_member_gives_kudos_in_public_with_reason(kudos: World) -> None:
    w = kudos
    res = await w.alice.slash(
        w.general, "badge award", badge="Kudos", member=w.bob, reason="great talk"
    )
    assert not res.ephemeral
    embed = embed_of(res)
    assert embed.title == "🎁 bob received 🙌 Kudos"
    assert embed.description == "great talk"
    assert embed.footer.text == "Given by alice"
    second = await w.mod.slash(w.general, "badge award", badge="Kudos", member=w.bob)
    assert embed_of(second).footer.text == "Given by moduser · 2 members have given it"
    assert await _gifts(w, w.bob.id) == [("Kudos", 2)]
    profile = await w.alice.slash(w.general, "badges", member=w.bob)
    field = embed_of(profile).fields[0]
    assert "given by moduser and 1 other member" in (field.value or "")


@pytest.mark.parametrize(
    ("giver", "target", "says"),
    [
        ("alice", "alice", "You cannot give this badge to yourself."),
        ("alice", "robot", "Bots cannot hold badges"),
    ],
)
async def test_refusals_are_private_and_change_nothing(
    kudos: World, giver: str, target: str, says: str
) -> None:
    w = kudos
    res = await getattr(w, giver).slash(
        w.general, "badge award", badge="Kudos", member=getattr(w, target)
    )
    assert res.ephemeral
    assert says in text_of(res)
    assert await _gifts(w, getattr(w, target).id) == []


async def test_each_giver_once_per_recipient(kudos: World) -> None:
    w = kudos
    await w.alice.slash(w.general, "badge award", badge="Kudos", member=w.bob)
    again = await w.alice.slash(w.general, "badge award", badge="Kudos", member=w.bob)
    assert private_text(again) == "You already gave 'Kudos' to this member."
    assert await _gifts(w, w.bob.id) == [("Kudos", 1)]


async def test_the_daily_quota(kudos: World) -> None:
    w = kudos
    await w.admin.slash(w.general, "badge policy", badge="Kudos", per_day=1)
    await w.alice.slash(w.general, "badge award", badge="Kudos", member=w.bob)
    res = await w.alice.slash(w.general, "badge award", badge="Kudos", member=w.mod)
    assert private_text(res) == "You can give 'Kudos' 1 time a day: try again after midnight UTC."


async def test_a_badge_members_may_not_give(kudos: World) -> None:
    w = kudos
    res = await w.alice.slash(w.general, "badge award", badge="Staff pick", member=w.bob)
    assert res.ephemeral
    assert text_of(res).startswith("You need the Moderator level to award badges.")
    choices = await w.alice.autocomplete(w.general, "badge award", "badge", "")
    assert [c["name"] for c in choices] == ["Kudos"]
    everything = await w.mod.autocomplete(w.general, "badge award", "badge", "")
    assert {c["name"] for c in everything} == {"Kudos", "Staff pick"}


async def test_a_role_policy_for_an_event_host(world: World) -> None:
    w = world
    await w.admin.slash(w.general, "badge create", name="Event 2026")
    await w.admin.slash(w.general, "badge create", name="Other")
    await w.admin.slash(w.general, "badge link-role", badge="Event 2026", role=w.helpers)
    res = await w.admin.slash(
        w.general, "badge policy", badge="Event 2026", awarders="role", role=w.mod_role
    )
    assert f"<@&{w.mod_role.id}>" in text_of(res)
    # bob has the Staff role: he hosts the event
    given = await w.bob.slash(w.general, "badge award", badge="Event 2026", member=w.alice)
    assert not given.ephemeral
    await w.bot.role_sync.wait_idle()
    assert w.helpers.id in await role_ids(w, w.alice)
    other = await w.bob.slash(w.general, "badge award", badge="Other", member=w.alice)
    assert other.ephemeral
    denied = await w.alice.slash(w.general, "badge award", badge="Event 2026", member=w.bob)
    assert denied.ephemeral
    assert "awarder role" in text_of(denied)


async def test_only_admins_set_a_policy_and_anyone_reads_it(kudos: World) -> None:
    w = kudos
    res = await w.mod.slash(w.general, "badge policy", badge="Staff pick", awarders="members")
    assert res.ephemeral
    assert "Admin level" in text_of(res)
    shown = await w.alice.slash(w.general, "badge policy", badge="Staff pick")
    assert text_of(shown) == "**Staff pick** can be awarded by moderators only."


async def test_a_bad_policy_is_refused(kudos: World) -> None:
    w = kudos
    res = await w.admin.slash(w.general, "badge policy", badge="Staff pick", awarders="role")
    assert res.ephemeral
    assert text_of(res) == "Name the role whose members may award the badge."
    res = await w.admin.slash(
        w.general, "badge policy", badge="Kudos", awarders="members", self_award=True
    )
    assert "never be given to oneself" in text_of(res)


async def test_the_give_badge_menu_opens_the_award_flow(kudos: World) -> None:
    w = kudos
    menu = await w.alice.context_menu(w.general, "Give badge", w.bob)
    assert menu.ephemeral
    assert menu.response is not None
    assert f"<@{w.bob.id}>" in menu.response.content
    shown = await w.alice.select(menu.response, ["kudos"])
    assert shown.modal is not None
    done = await w.alice.submit_modal(shown, {"reason": "thanks for the help"})
    assert not done.ephemeral
    assert embed_of(done).title == "🎁 bob received 🙌 Kudos"
    assert embed_of(done).description == "thanks for the help"
    assert await _gifts(w, w.bob.id) == [("Kudos", 1)]


async def test_the_give_badge_menu_refuses_with_nothing_to_give(world: World) -> None:
    w = world
    await w.admin.slash(w.general, "badge create", name="Staff pick")
    res = await w.alice.context_menu(w.general, "Give badge", w.bob)
    assert res.ephemeral
    assert text_of(res).startswith("There is no badge you can give here.")
    bot = await w.mod.context_menu(w.general, "Give badge", w.robot)
    assert text_of(bot) == "Bots cannot hold badges: pick a member."


async def test_the_give_menu_checks_the_giver_as_they_are_when_they_submit(world: World) -> None:
    w = world
    await w.admin.slash(w.general, "badge create", name="Helper star")
    await w.admin.slash(
        w.general, "badge policy", badge="Helper star", awarders="role", role=w.helpers
    )
    w.env.backend.add_member_role(w.guild.id, w.alice.id, w.helpers.id)
    await w.env.settle()
    menu = await w.alice.context_menu(w.general, "Give badge", w.bob)
    assert menu.response is not None
    shown = await w.alice.select(menu.response, ["helper-star"])
    w.env.backend.remove_member_role(w.guild.id, w.alice.id, w.helpers.id)  # role taken away
    await w.env.settle()
    done = await w.alice.submit_modal(shown, {"reason": "still?"})
    assert done.ephemeral
    assert "awarder role" in text_of(done)
    assert await _gifts(w, w.bob.id) == []


async def test_changing_who_gives_keeps_the_daily_limit_until_cleared(kudos: World) -> None:
    w = kudos
    await w.admin.slash(w.general, "badge policy", badge="Kudos", per_day=2)
    res = await w.admin.slash(w.general, "badge policy", badge="Kudos", awarders="members")
    assert "at most 2 a day per member" in text_of(res)
    cleared = await w.admin.slash(w.general, "badge policy", badge="Kudos", per_day=0)
    assert "a day" not in text_of(cleared)
