"""Role sync: drift in both modes, rejoining members, deleted roles, /badge sync, failures,
retries, and a restart that resumes the queue."""

from __future__ import annotations

import discord
import pytest
import simcord

from badges.permissions import Actor, Level
from bot.app import create_bot
from bot.config import Settings
from db import state
from db.database import Database
from tests.cogs.conftest import World, add_members, build_world, embed_of, role_ids, text_of

pytestmark = pytest.mark.members_intent


async def _linked(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper", role=world.helpers)


async def _edit_role_by_hand(
    world: World, member: simcord.MemberActor, role_id: int, *, give: bool
) -> None:
    """Someone changes the member's roles in Discord itself, not through the bot."""
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    fetched = await guild.fetch_member(member.id)
    edit = fetched.add_roles if give else fetched.remove_roles
    await edit(discord.Object(role_id), reason="by hand")
    await world.env.settle()


async def _give_role_by_hand(world: World, member: simcord.MemberActor, role_id: int) -> None:
    await _edit_role_by_hand(world, member, role_id, give=True)


async def _take_role_by_hand(world: World, member: simcord.MemberActor, role_id: int) -> None:
    await _edit_role_by_hand(world, member, role_id, give=False)


async def test_revert_mode_takes_back_a_role_given_by_hand(world: World) -> None:
    await _linked(world)
    await _give_role_by_hand(world, world.alice, world.helpers.id)
    assert world.helpers.id not in await role_ids(world, world.alice)
    assert (await world.bot.service.awards.of_member(world.guild.id, world.alice.id)).total == 0


async def test_revert_mode_gives_back_a_role_removed_by_hand(world: World) -> None:
    await _linked(world)
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.env.settle()
    await _take_role_by_hand(world, world.alice, world.helpers.id)
    assert world.helpers.id in await role_ids(world, world.alice)


async def test_adopt_mode_turns_hand_edits_into_awards_and_revocations(world: World) -> None:
    await _linked(world)
    res = await world.admin.slash(world.general, "badge config role-drift", mode="adopt")
    assert text_of(res).startswith("A badge role given by hand now awards the badge")
    await _give_role_by_hand(world, world.alice, world.helpers.id)
    (held,) = (await world.bot.service.awards.of_member(world.guild.id, world.alice.id)).items
    assert (held.badge.name, held.award.awarded_by_name, held.award.reason) == (
        "Helper",
        "Discord",
        None,
    )
    assert world.helpers.id in await role_ids(world, world.alice)
    await _take_role_by_hand(world, world.alice, world.helpers.id)
    assert (await world.bot.service.awards.of_member(world.guild.id, world.alice.id)).total == 0


async def test_role_drift_setting_needs_admin(world: World) -> None:
    res = await world.mod.slash(world.general, "badge config role-drift", mode="adopt")
    assert text_of(res) == (
        "You need the Admin level to configure the badge system."
        " The server owner can give your role that level with /badge config set-role."
    )


async def test_returning_member_gets_badge_roles_back(world: World) -> None:
    await _linked(world)
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.env.settle()
    world.guild.remove_member(world.alice)
    await world.env.settle()
    back = world.guild.add_member(world.alice.user)
    await world.env.settle()
    assert world.helpers.id in await role_ids(world, back)


async def test_deleted_role_unlinks_the_badge_and_tells_the_log(world: World) -> None:
    await world.admin.slash(world.general, "badge config log-channel", channel=world.logs)
    await _linked(world)
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    role = guild.get_role(world.helpers.id)
    assert role is not None
    await role.delete()
    await world.env.settle()
    assert (await world.bot.service.catalog.find(world.guild.id, "helper")).role_id is None
    await world.bot.log_channel.drain()
    last = world.logs.history()[-1].embeds[0]
    assert last.title == "Role unlinked"
    assert {f.name: f.value for f in last.fields}["Reason"] == "The role was deleted in Discord"


async def test_sync_dry_run_shows_the_diff_then_sync_fixes_it(world: World) -> None:
    await _linked(world)
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.env.settle()
    # drift that no event reported: the bot was offline (simulated by pausing its worker)
    world.bot.role_sync.paused = True
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.bob)
    await world.bot.service.queue.due(world.guild.id)
    await world.env.settle()
    # forget the queued change, as if it had been lost, to create real drift
    for change in await world.bot.service.queue.due(world.guild.id):
        await world.bot.service.queue.applied(change)
    world.bot.role_sync.paused = False
    dry = await world.mod.slash(world.general, "badge sync", dry_run=True)
    assert text_of(dry) == (
        f"Dry run, nothing changed:\n**Helper**: 1 holder get <@&{world.helpers.id}>."
    )
    assert world.helpers.id not in await role_ids(world, world.bob)
    res = await world.mod.slash(world.general, "badge sync")
    assert text_of(res).startswith("Sync:\n**Helper**: 1 holder get")
    await world.env.settle()
    assert world.helpers.id in await role_ids(world, world.bob)
    again = await world.mod.slash(world.general, "badge sync")
    assert text_of(again) == f"Sync:\n**Helper**: in step with <@&{world.helpers.id}>."


async def test_sync_refusals(world: World) -> None:
    res = await world.mod.slash(world.general, "badge sync")
    assert text_of(res) == "No badge has a linked role: link one with /badge link-role."
    await _linked(world)
    res = await world.alice.slash(world.general, "badge sync")
    assert text_of(res) == (
        "You need the Moderator level to sync badge roles with the server."
        " An admin can give your role that level with /badge config set-role."
    )


async def test_award_role_awards_everyone_with_a_role(world: World) -> None:
    await _linked(world)
    attendees = world.guild.create_role("Attendees")
    for member in (world.alice, world.bob):
        await _give_role_by_hand(world, member, attendees.id)
    await _give_role_by_hand(world, world.robot, attendees.id)
    res = await world.mod.slash(world.general, "badge award-role", badge="helper", role=attendees)
    assert not res.ephemeral
    text = text_of(res)
    assert text.startswith("**Helper**: 2 members awarded, 0 already held it, 1 refused:")
    assert f"<@{world.robot.id}> (a bot (bots cannot hold badges))" in text
    assert text.endswith("Roles: all given.")
    for member in (world.alice, world.bob):
        assert world.helpers.id in await role_ids(world, member)


async def test_award_many_takes_mentions_ids_and_files(world: World) -> None:
    await _linked(world)
    pasted = f"<@{world.alice.id}>, {world.bob.id} <@!{world.alice.id}>"
    res = await world.mod.slash(world.general, "badge award-many", badge="helper", members=pasted)
    assert text_of(res).startswith("**Helper**: 2 members awarded, 0 already held it.")
    assert text_of(res).endswith("Roles: all given.")
    file = ("members.txt", f"{world.alice.id}\n{world.mod.id}\n".encode())
    res = await world.mod.slash(world.general, "badge award-many", badge="helper", file=file)
    assert text_of(res).startswith("**Helper**: 1 member awarded, 1 already held it.")


async def test_award_many_bad_input_and_permission(world: World) -> None:
    await _linked(world)
    res = await world.mod.slash(world.general, "badge award-many", badge="helper", members="hi")
    assert res.ephemeral
    assert text_of(res).startswith("I found no member in that")
    res = await world.alice.slash(
        world.general, "badge award-many", badge="helper", members=str(world.bob.id)
    )
    assert text_of(res) == (
        "You need the Moderator level to award badges."
        " An admin can give your role that level with /badge config set-role."
    )
    assert (await world.bot.service.catalog.find(world.guild.id, "helper")).awarded_count == 0


async def test_permanent_failure_is_recorded_once_and_shown_by_doctor(world: World) -> None:
    await world.admin.slash(world.general, "badge config log-channel", channel=world.logs)
    # a role linked earlier and since moved above the bot's role
    council = world.guild.create_role("Council")
    await world.env.settle()
    admin = Actor(world.admin.id, "adminuser", Level.ADMIN, manages_roles=True)
    badge = await world.bot.service.catalog.create(admin, world.guild.id, name="Helper")
    await world.bot.service.roles.link(admin, world.guild.id, badge.id, council.id)
    world.env.backend.reorder_roles(world.guild.id, [{"id": council.id, "position": 50}])
    await world.env.settle()
    before = len(world.env.http_requests)
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.env.settle()
    role_calls = [
        r for r in world.env.http_requests[before:] if "/roles/" in r.path and r.method == "PUT"
    ]
    assert role_calls == []  # refused before asking Discord: no invalid request
    pending, failed, latest = await world.bot.service.queue.status(world.guild.id)
    assert (pending, failed) == (0, 1)
    assert latest[0].error == (
        "The role 'Council' is not below my highest role, so Discord will not let me give "
        "it: move my role above it."
    )
    await world.bot.log_channel.drain()
    assert world.logs.history()[-1].embeds[0].title == "Role sync failed"
    doctor = embed_of(await world.mod.slash(world.general, "badge doctor"))
    assert doctor.title == "❌ Badge roles: Needs fixing"
    assert doctor.description is not None
    assert "Role changes that failed: 1" in doctor.description
    assert "is not below my highest role" in doctor.description


async def test_doctor_when_all_is_well(world: World) -> None:
    await _linked(world)
    doctor = embed_of(await world.mod.slash(world.general, "badge doctor"))
    assert doctor.title == "✅ Badge roles: All good"
    assert doctor.description is not None
    assert "I have Manage Roles." in doctor.description
    assert "Server Members intent is on" in doctor.description
    res = await world.alice.slash(world.general, "badge doctor")
    assert text_of(res) == (
        "You need the Moderator level to check how badge roles work here."
        " An admin can give your role that level with /badge config set-role."
    )


async def test_server_errors_are_retried_later(world: World) -> None:
    await _linked(world)
    world.env.inject_error("PUT", "/guilds/*/members/*/roles/*", status=500, times=10)
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.env.settle()
    assert world.helpers.id not in await role_ids(world, world.alice)
    pending, failed, _ = await world.bot.service.queue.status(world.guild.id)
    assert (pending, failed) == (1, 0)


async def test_a_restart_resumes_the_queue(database: Database) -> None:
    """Crash between the award and the role change: the award is committed with its queued
    change; a new bot on the same database applies it, once."""
    settings = Settings(_env_file=None, discord_token="x", members_intent=True)  # type: ignore[call-arg]
    first = create_bot(settings, database=database)
    async with simcord.run(first) as env:
        world = await build_world(env)
        await _linked(world)
        first.role_sync.paused = True  # the process dies before the worker gets to it
        await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
        assert world.helpers.id not in await role_ids(world, world.alice)
        _ = env.errors
    # The simulated Discord starts empty again, so the new bot must register its commands
    # anew (as it would on a new application): forget the stored hash of the command tree.
    await state.set_value(database, "command_tree_hash:global", "")
    second = create_bot(settings, database=database)
    async with simcord.run(second) as env:
        world = await build_world(env)  # the same simulated server, with the same ids
        await env.settle()
        await second.role_sync.wait_idle()
        await env.settle()
        assert world.helpers.id in await role_ids(world, world.alice)
        puts = [r for r in env.http_requests if r.method == "PUT" and "/roles/" in r.path]
        assert len(puts) == 1
        assert (await second.service.queue.status(world.guild.id))[:2] == (0, 0)
        _ = env.errors


async def test_award_many_handles_hundreds_from_a_file(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Attendee")
    ids = "\n".join(str(uid) for uid in await add_members(world, 300))
    res = await world.mod.slash(
        world.general, "badge award-many", badge="attendee", file=("list.txt", ids.encode())
    )
    assert text_of(res) == "**Attendee**: 300 members awarded, 0 already held it."
    assert (await world.bot.service.catalog.find(world.guild.id, "attendee")).awarded_count == 300


async def test_discord_refusing_a_change_blocks_its_role_after_one_request(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper")
    badge = await world.bot.service.catalog.find(world.guild.id, "helper")
    moderator = Actor(world.mod.id, "moduser", Level.MODERATOR)
    members = await add_members(world, 20)
    world.bot.role_sync.paused = True
    await world.bot.service.awards.bulk_award(moderator, world.guild.id, badge.id, members)
    admin = Actor(world.admin.id, "adminuser", Level.ADMIN, manages_roles=True)
    await world.bot.service.roles.link(admin, world.guild.id, badge.id, world.helpers.id)
    world.env.inject_error("PUT", "/guilds/*/members/*/roles/*", status=403, code=50013, times=100)
    before = len(world.env.http_requests)
    world.bot.role_sync.start()
    world.bot.role_sync.kick(world.guild.id)
    await world.bot.role_sync.wait_idle()
    puts = [r for r in world.env.http_requests[before:] if r.method == "PUT"]
    assert len(puts) == 1  # one refusal, then no more requests for that role
    pending, failed, _ = await world.bot.service.queue.status(world.guild.id)
    assert (pending, failed) == (0, 20)


async def test_sync_queues_failed_changes_again(world: World) -> None:
    await _linked(world)
    await world.bot.service.queue.blocked(world.guild.id, world.helpers.id, "was broken")
    world.bot.role_sync.paused = True
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.bot.service.queue.blocked(world.guild.id, world.helpers.id, "was broken")
    world.bot.role_sync.start()
    res = await world.mod.slash(world.general, "badge sync")
    assert text_of(res).startswith("Sync:\nQueued 1 failed role change again.")
    await world.env.settle()
    assert world.helpers.id in await role_ids(world, world.alice)


async def test_a_long_sync_report_stays_private(world: World) -> None:
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    admin = Actor(world.owner.id, "owner", Level.SUPER_ADMIN)
    for i in range(30):
        role = world.guild.create_role(f"Club {i:02d} " + "x" * 40)
        await world.env.settle()
        badge = await world.bot.service.catalog.create(
            admin, world.guild.id, name=f"Club {i:02d} " + "y" * 60
        )
        await world.bot.service.roles.link(admin, world.guild.id, badge.id, role.id)
    res = await world.mod.slash(world.general, "badge sync", dry_run=True)
    messages = [m for m in [res.response, *res.followups] if m is not None]
    assert len(messages) >= 2
    assert all(m.ephemeral for m in messages)
    assert all(len(m.content or "") <= 2000 for m in messages)
    assert world.general.history(viewer=world.alice) == []
