"""The demo badges and awards, written through the real BadgeService.

Each seeding step runs once per sandbox database: the names of the steps done are kept in
the bot's state table, so a restart neither duplicates badges nor brings back one a visitor
deleted. A step added later runs once on existing sandbox databases too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import simcord

from badges.automation import Awarders, RuleDraft, RuleKind
from badges.errors import BadgeError
from badges.permissions import Actor, Level
from badges.service import BadgeService
from bot.sandbox.world import DemoWorld, display_name
from db import state
from db.database import Database

SEEDED_KEY = "sandbox:seeded"


@dataclass(frozen=True)
class DemoBadge:
    name: str
    icon: str
    color: str
    description: str


DEMO_BADGES = (
    DemoBadge("Newcomer", "🌱", "#57F287", "Joined the server and said hello"),
    DemoBadge("Bug Hunter", "🐛", "#ED4245", "Found a bug and reported it well"),
    DemoBadge("Artist", "🎨", "#EB459E", "Made something beautiful for the community"),
    DemoBadge("Event Winner", "🏆", "#FEE75C", "Won a community event"),
)


def _actor(member: simcord.MemberActor, level: Level) -> Actor:
    return Actor(member.id, display_name(member), level)


async def seed_badges(service: BadgeService, world: DemoWorld) -> None:
    """The demo badges, created by the admin."""
    admin = _actor(world.admin, Level.ADMIN)
    for badge in DEMO_BADGES:
        try:
            await service.catalog.create(
                admin,
                world.guild.id,
                name=badge.name,
                icon=badge.icon,
                color=badge.color,
                description=badge.description,
            )
        except BadgeError:  # a visitor already made one with that name or slug
            continue


async def seed_awards(service: BadgeService, world: DemoWorld) -> None:
    """A few awards by the moderator, so /badges has something to show."""
    moderator = _actor(world.moderator, Level.MODERATOR)
    alice, bob, carol, _dan = world.members
    for slug, member, reason in (
        ("newcomer", alice, "Welcome!"),
        ("newcomer", bob, "Welcome!"),
        ("newcomer", carol, "Welcome!"),
        ("bug-hunter", alice, "Spotted the broken link in the rules"),
    ):
        try:
            badge = await service.catalog.get_by_slug(world.guild.id, slug)
            await service.awards.award(
                moderator, world.guild.id, badge.id, member.id, reason=reason
            )
        except BadgeError:  # the badge was renamed or deleted, or is held already
            continue


async def seed_role_linked_badge(service: BadgeService, world: DemoWorld) -> None:
    """ "Trusted Helper": linked to the Helpers role, which opens #helpers-lounge (the world
    builds that channel hidden from @everyone and open to Helpers, so its gate is recorded
    as replacing no overwrites). Alice holds it, so the role sync gives her the role. The
    owner sets it up: linking roles and gating channels need Manage Roles."""
    admin = _actor(world.owner, Level.SUPER_ADMIN)
    moderator = _actor(world.moderator, Level.MODERATOR)
    guild_id = world.guild.id
    try:
        badge = await service.catalog.create(
            admin,
            guild_id,
            name="Trusted Helper",
            icon="🤝",
            color="#2ECC71",
            description="Helps others; opens #helpers-lounge",
            role_id=world.helpers_role.id,
        )
        await service.gates.add(
            admin,
            guild_id,
            badge.id,
            world.helpers_lounge.id,
            everyone_before=None,
            role_before=None,
        )
        await service.awards.award(
            moderator,
            guild_id,
            badge.id,
            world.members[0].id,
            reason="Answered questions all week",
        )
    except BadgeError:  # a visitor already made a badge with that name, or that role link
        return


async def seed_earned_and_given(service: BadgeService, world: DemoWorld) -> None:
    """ "Chatterbox" awards itself after 5 messages; "Kudos" is given by members to each
    other (at most 3 a day each)."""
    admin = _actor(world.admin, Level.ADMIN)
    guild_id = world.guild.id
    try:
        chatterbox = await service.catalog.create(
            admin,
            guild_id,
            name="Chatterbox",
            icon="💬",
            color="#5865F2",
            description="Sent 5 messages: awarded automatically",
        )
        await service.rules.add(admin, guild_id, chatterbox.id, RuleDraft(RuleKind.MESSAGES, 5))
        kudos = await service.catalog.create(
            admin,
            guild_id,
            name="Kudos",
            icon="🙌",
            color="#FEE75C",
            description="Given by members to each other",
        )
        await service.rules.set_policy(
            admin, guild_id, kudos.id, awarders=Awarders.MEMBERS, per_day=3
        )
    except BadgeError:  # a visitor already made a badge with that name
        return


SeedStep = Callable[[BadgeService, DemoWorld], Awaitable[None]]

SEED_STEPS: tuple[tuple[str, SeedStep], ...] = (
    ("demo-badges", seed_badges),
    ("demo-awards", seed_awards),
    ("role-linked-badge", seed_role_linked_badge),
    ("earned-and-given", seed_earned_and_given),
)
"""Steps in order, by a name that must never change (it is stored in the database)."""


async def seed(service: BadgeService, database: Database, world: DemoWorld) -> None:
    """Run the seeding steps this database has not had yet."""
    done: list[str] = json.loads(await state.get_value(database, SEEDED_KEY) or "[]")
    for name, step in SEED_STEPS:
        if name in done:
            continue
        await step(service, world)
        done.append(name)
        await state.set_value(database, SEEDED_KEY, json.dumps(done))
