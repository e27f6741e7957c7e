"""Activity counting under a paced stream of gateway events, and one full evaluation pass of
the automatic badges over a big guild (issue "Automatic badges").

    .venv/bin/python -m bench.activity --backend sqlite|postgresql [--scenario stream|pass|both]
        [--runs 1] [--rate 1000] [--seconds 60] [--authors 20000] [--flush 5]
        [--gateway-rtt 0.05] [--members 100000] [--active 40000] [--days 30] [--seed 42]

stream: the real bot (``create_bot``, its ``setup_hook`` with every extension, loops and the
change feed; only the command sync is skipped, and there is no login) on a fresh database
with 10 badges, each with one rule. discord.py's own ``DiscordWebSocket`` (no socket under
it) is handed the frames a gateway connection would receive: zlib-stream compressed JSON, a
GUILD_CREATE (10 text channels, roles) and then ``--rate`` MESSAGE_CREATE per second for
``--seconds`` s from ``--authors`` distinct members (Zipf-skewed: a few members write most;
each payload has ``author`` and ``member`` with ``joined_at``, and an empty ``content`` as
without the message-content intent). discord.py decompresses, parses, builds the
``discord.Message`` and dispatches ``on_message`` to the ``cogs.activity`` listener (and to
``commands.Bot.on_message``), as it would from Discord. The frames are built before the
clock starts, so the process's CPU is the bot's. ``cogs.activity``'s own ``tasks.loop``
flushes every ``activity_flush_seconds`` (5 s): one write transaction of the counts, then the
incremental evaluation of the members whose counts changed. After the stream the run waits
until the loop has written everything, then checks the database's sum of messages.

Before an automatic award the service asks the bot's directory which candidates are members
(``Awards._eligible``); without the members intent discord.py's cache does not hold them, so
the directory sends REQUEST_GUILD_MEMBERS on the gateway (100 ids each). ``--gateway-rtt``
answers each with a GUILD_MEMBERS_CHUNK after that many seconds, under discord.py's own
gateway rate limiter (``GatewaySocket``); ``--gateway-rtt 0`` leaves the bot unconnected, the
request fails at once and the directory lets every candidate through (what a bot that is not
connected yet does).

  *sender lag*: how late a frame is handed to discord.py against its schedule (frame i is due
  at start + i / rate); the sender never skips, so lag accumulates when the loop is busy.
  *counted lag*: from a frame's due time until ``ActivityCounter.message`` counted it (the
  listener is wrapped to note the time; one ``perf_counter`` call). Flushes are timed by
  wrapping ``bot.counter.flush`` (the loop calls it by attribute): *write* is the counter's
  own ``last_flush_seconds`` (the ``service.activity.record`` transaction), *evaluate* the
  rest. Database writes are counted with SQLAlchemy events: committed transactions, and rows
  sent in INSERT/UPDATE/DELETE statements (each executemany parameter set is one).

pass: a fresh database with 10 badges and the same 10 rules (added through
``service.rules.add`` while the guild is empty), then bulk-loaded in a child process:
``--members`` member records (joined over four years, more of them recently; 2 % boosting)
and, for ``--active`` of them, daily activity counts over the last ``--days`` days in 1-3 of
10 channels plus one rolled-up row (day 0) per channel for older history. Then one
``service.rules.evaluate(guild)`` (what the hourly full pass runs per guild) is timed: the
first awards everyone who qualifies; the second, right after, finds nothing to change (the
top-10 badge is re-ranked only when its rotation is due, so the second pass skips it, as the
hourly pass would).

CPU: this process's user + system time (``getrusage``: the bot, discord.py and, on SQLite,
aiosqlite's thread doing the SQL) and on PostgreSQL also the CPU of the server backends
connected to the ``bench`` database (``/proc/<pid>/stat`` of the pids in
``pg_stat_activity``; background writer, WAL writer and checkpointer are not counted).

PostgreSQL uses the ``bench`` database (``BENCH_PG_URL``), whose public schema is dropped and
recreated per run: the run refuses to start while another session is connected to it.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import itertools
import json
import logging
import math
import os
import random
import resource
import statistics
import time
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import discord
from discord.gateway import DiscordWebSocket
from sqlalchemy import Delete, Insert, Update, event, func, insert, select, text, update

from badges.automation import EvaluationReport, RuleDraft, RuleKind, Weights, day_number
from badges.permissions import Actor, Level
from bot.app import BadgeBot, create_bot
from bot.config import Settings
from db import migrate
from db.database import Database
from db.tables import ACTIVITY_COUNTS, BADGE_POLICIES, BADGES, MEMBER_RECORDS

OUT = Path(__file__).parent / "out"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/bench")
GUILD = 1_300_000_000_000_000_001
CHANNEL_BASE = 1_300_000_000_000_000_100  # text channel c: CHANNEL_BASE + c
ROLE_BASE = 1_300_000_000_000_000_200  # @everyone is GUILD; member roles ROLE_BASE + r
MEMBER_BASE = 1_310_000_000_000_000_000  # member i: MEMBER_BASE + i
MESSAGE_BASE = 1_320_000_000_000_000_000  # the stream's frame i carries message MESSAGE_BASE + i
BOT_ID = 1_300_000_000_000_000_999
OWNER_ID = MEMBER_BASE
ADMIN = Actor(901, "bench admin", Level.SUPER_ADMIN)
CHANNELS = 10
ZIPF_S = 1.0
BATCH = 50_000
JOIN_SPAN_DAYS = 4 * 365


# -- the guild's automatic badges ------------------------------------------------------------


def rules() -> list[tuple[str, RuleDraft]]:
    """10 badges with one rule each: message thresholds, windowed, paced with excluded
    channels, reactions, voice, tenure and a top 10."""
    excluded = frozenset({CHANNEL_BASE + 8, CHANNEL_BASE + 9})
    return [
        ("First words", RuleDraft(RuleKind.MESSAGES, 1)),
        ("Regular", RuleDraft(RuleKind.MESSAGES, 50)),
        ("Chatterbox", RuleDraft(RuleKind.MESSAGES, 500)),
        ("Legend", RuleDraft(RuleKind.MESSAGES, 2000)),
        ("Active this week", RuleDraft(RuleKind.MESSAGES, 20, window_days=7)),
        (
            "Steady",
            RuleDraft(
                RuleKind.MESSAGES, 100, window_days=30, cooldown=True, excluded_channel_ids=excluded
            ),
        ),
        ("Appreciated", RuleDraft(RuleKind.REACTIONS, 25)),
        ("Voice regular", RuleDraft(RuleKind.VOICE_MINUTES, 600)),
        ("Veteran", RuleDraft(RuleKind.TENURE_DAYS, 365)),
        (
            "Top 10",
            RuleDraft(
                RuleKind.TOP_ACTIVE,
                10,
                window_days=30,
                weights=Weights(messages=1.0, reactions=0.5, voice_minutes=0.1),
            ),
        ),
    ]


async def add_rules(bot: BadgeBot) -> None:
    for name, draft in rules():
        badge = await bot.service.catalog.create(ADMIN, GUILD, name=name)
        await bot.service.rules.add(ADMIN, GUILD, badge.id, draft)


# -- databases -------------------------------------------------------------------------------


_PARENT = os.environ.setdefault("BENCH_ACTIVITY_PARENT", str(os.getpid()))
"""The measuring process's pid, inherited by the seeding child: both name the same file."""


def sqlite_path(run: int) -> Path:
    return OUT / f"activity_{_PARENT}_{run}.db"


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def url_for(backend: str, run: int) -> str:
    return f"sqlite+aiosqlite:///{sqlite_path(run)}" if backend == "sqlite" else PG_URL


async def fresh_schema(backend: str, run: int) -> None:
    """An empty, migrated database: a new SQLite file, or the bench database's schema
    dropped and recreated (refused while another session uses that database)."""
    if backend == "sqlite":
        OUT.mkdir(exist_ok=True)
        remove_sqlite(sqlite_path(run))
    database = Database(url_for(backend, run))
    try:
        if backend == "postgresql":
            async with database.engine.begin() as conn:
                others = (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND pid <> pg_backend_pid()"
                        )
                    )
                ).scalar_one()
                if others:
                    raise SystemExit(f"{others} other session(s) use the bench database: not reset")
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await migrate.upgrade(database.engine)
    finally:
        await database.dispose()


class SqlCounter:
    """Committed transactions; statements sent to the driver (each insertmanyvalues batch is
    one); and rows given to INSERT/UPDATE/DELETE calls (each executemany parameter set is
    one; an INSERT ... SELECT counts 1)."""

    def __init__(self, database: Database) -> None:
        self.commits = 0
        self.statements = 0
        self.dml_statements = 0
        self.dml_rows = 0
        sync = database.engine.sync_engine
        event.listen(sync, "commit", self._commit)
        event.listen(sync, "before_execute", self._call)
        event.listen(sync, "before_cursor_execute", self._execute)

    def _commit(self, _conn: Any) -> None:
        self.commits += 1

    def _call(self, _c: Any, element: Any, multiparams: Any, params: Any, _o: Any) -> None:
        if isinstance(element, Insert | Update | Delete):
            self.dml_rows += len(multiparams) if multiparams else 1

    def _execute(
        self, _c: Any, _cur: Any, statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        self.statements += 1
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.dml_statements += 1

    def snapshot(self) -> tuple[int, int, int, int]:
        return self.commits, self.statements, self.dml_statements, self.dml_rows


class ServerCpu:
    """CPU seconds of the PostgreSQL backends connected to the bench database."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._tick = os.sysconf("SC_CLK_TCK")

    async def read(self) -> dict[int, float]:
        if self._database.dialect != "postgresql":
            return {}
        async with self._database.engine.connect() as conn:
            pids = (
                await conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                )
            ).scalars()
            return {pid: cpu for pid in pids if (cpu := self._cpu_of(pid)) is not None}

    def _cpu_of(self, pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime, stime

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float | None:
        if not after:
            return None
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mib() -> float:
    """Current resident set size."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- gateway payloads ------------------------------------------------------------------------


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="microseconds")


def joined_at(rng: random.Random, now: datetime) -> datetime:
    """Joined within four years, more members recently (half joined over a year ago)."""
    return now - timedelta(days=JOIN_SPAN_DAYS * rng.random() ** 2, seconds=rng.randrange(86400))


def guild_create(now: datetime) -> dict[str, Any]:
    """GUILD_CREATE of a guild the bot is in: 10 text channels, a few roles, the bot and the
    owner as members (no members intent: the others are not sent)."""

    def role(role_id: int, name: str, position: int, permissions: int) -> dict[str, Any]:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def member(user_id: int, name: str, roles: list[int], bot: bool) -> dict[str, Any]:
        return {
            "user": {
                "id": str(user_id),
                "username": name,
                "global_name": None,
                "discriminator": "0",
                "avatar": None,
                "bot": bot,
                "public_flags": 0,
            },
            "roles": [str(r) for r in roles],
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "joined_at": _iso(now - timedelta(days=800)),
            "pending": False,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "communication_disabled_until": None,
        }

    channels: list[dict[str, Any]] = [
        {
            "id": str(CHANNEL_BASE + c),
            "type": 0,
            "name": f"channel-{c}",
            "position": c,
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "permission_overwrites": [],
            "flags": 0,
        }
        for c in range(CHANNELS)
    ]
    return {
        "id": str(GUILD),
        "name": "bench activity guild",
        "icon": None,
        "owner_id": str(OWNER_ID),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "mfa_level": 0,
        "premium_tier": 2,
        "premium_subscription_count": 9,
        "preferred_locale": "en-US",
        "system_channel_id": str(CHANNEL_BASE),
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "splash": None,
        "discovery_splash": None,
        "nsfw_level": 0,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "premium_progress_bar_enabled": False,
        "large": True,
        "member_count": 100000,
        "joined_at": _iso(now - timedelta(days=700)),
        "unavailable": False,
        "roles": [
            role(GUILD, "@everyone", 0, 1071698660929),
            role(ROLE_BASE + 1, "Members", 1, 0),
            role(ROLE_BASE + 2, "Regulars", 2, 0),
            role(ROLE_BASE + 3, "badgebot", 3, 268435456),
        ],
        "members": [
            member(BOT_ID, "badgebot", [ROLE_BASE + 3], True),
            member(OWNER_ID, "owner", [ROLE_BASE + 2], False),
        ],
        "channels": channels,
        "threads": [],
        "voice_states": [],
        "presences": [],
        "emojis": [],
        "stickers": [],
        "features": ["COMMUNITY", "NEWS"],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


@dataclass
class Author:
    user: dict[str, Any]
    member: dict[str, Any]
    home: int  # the channel they mostly write in


def authors(n: int, rng: random.Random, now: datetime) -> list[Author]:
    out = []
    for i in range(n):
        user_id = MEMBER_BASE + 1 + i
        out.append(
            Author(
                user={
                    "id": str(user_id),
                    "username": f"member{i}",
                    "global_name": f"Member {i}",
                    "discriminator": "0",
                    "avatar": f"{rng.getrandbits(128):032x}" if i % 3 else None,
                    "avatar_decoration_data": None,
                    "public_flags": 0,
                    "clan": None,
                    "primary_guild": None,
                },
                member={
                    "roles": [str(ROLE_BASE + 1)] + ([str(ROLE_BASE + 2)] if i % 7 == 0 else []),
                    "nick": None,
                    "avatar": None,
                    "banner": None,
                    "premium_since": None,
                    "joined_at": _iso(joined_at(rng, now)),
                    "pending": False,
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "communication_disabled_until": None,
                },
                home=rng.randrange(CHANNELS),
            )
        )
    return out


def frames(
    args: argparse.Namespace, now: datetime
) -> tuple[list[bytes], int, dict[int, dict[str, Any]]]:
    """The gateway's frames, compressed as one zlib stream as Discord sends them: the
    GUILD_CREATE first, then the MESSAGE_CREATEs. Returns them and the uncompressed bytes of
    the messages, and each author's member object as a member request answers it."""
    rng = random.Random(args.seed)
    people = authors(args.authors, rng, now)
    weights = list(itertools.accumulate(1 / (r + 1) ** ZIPF_S for r in range(args.authors)))
    zlib_stream = zlib.compressobj()

    def frame(payload: dict[str, Any]) -> tuple[bytes, int]:
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return zlib_stream.compress(raw) + zlib_stream.flush(zlib.Z_SYNC_FLUSH), len(raw)

    out = [frame({"op": 0, "s": 1, "t": "GUILD_CREATE", "d": guild_create(now)})[0]]
    raw_bytes = 0
    n = int(args.rate * args.seconds)
    for i in range(n):
        who = people[bisect.bisect(weights, rng.random() * weights[-1])]
        channel = who.home if rng.random() < 0.7 else rng.randrange(CHANNELS)
        sent = now + timedelta(seconds=i / args.rate)
        data: dict[str, Any] = {
            "type": 0,
            "tts": False,
            "timestamp": _iso(sent),
            "pinned": False,
            "nonce": str(MESSAGE_BASE - 10**15 + i),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "member": who.member,
            "id": str(MESSAGE_BASE + i),
            "flags": 0,
            "embeds": [],
            "edited_timestamp": None,
            "content": "",
            "components": [],
            "channel_id": str(CHANNEL_BASE + channel),
            "author": who.user,
            "attachments": [],
            "guild_id": str(GUILD),
        }
        if i % 10 == 0:  # a reply (type 19), without the message content intent
            data["type"] = 19
            data["message_reference"] = {
                "type": 0,
                "channel_id": data["channel_id"],
                "message_id": str(MESSAGE_BASE + max(0, i - 5)),
                "guild_id": str(GUILD),
            }
            data["referenced_message"] = None
        compressed, size = frame({"op": 0, "s": i + 2, "t": "MESSAGE_CREATE", "d": data})
        out.append(compressed)
        raw_bytes += size
    members = {int(a.user["id"]): {**a.member, "user": a.user} for a in people}
    return out, raw_bytes, members


def gateway_for(bot: BadgeBot) -> DiscordWebSocket:
    """discord.py's websocket with no socket under it, wired to the bot as ``from_client``
    does after connecting: ``received_message`` takes a frame as it came off the wire."""
    ws = DiscordWebSocket(None, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
    state = bot._connection
    ws.token = "not-used"
    ws._connection = state
    ws._discord_parsers = state.parsers
    ws._dispatch = bot.dispatch
    ws.gateway = DiscordWebSocket.DEFAULT_GATEWAY
    ws.call_hooks = state.call_hooks
    ws._initial_identify = False
    ws.shard_id = None
    ws.shard_count = None
    ws.session_id = "bench"
    ws.sequence = 0
    ws._max_heartbeat_timeout = state.heartbeat_timeout
    return ws


class GatewaySocket:
    """What lies under discord.py's websocket: frames the bot sends are read for member
    requests (op 8, REQUEST_GUILD_MEMBERS), each answered ``rtt`` seconds later with the
    GUILD_MEMBERS_CHUNK Discord would send (one chunk; the authors' member objects), handed
    to ``received_message`` as a text frame. discord.py's own gateway rate limiter (110
    sends per 60 s) runs before ``send_str``, as on a real connection."""

    def __init__(self, members: dict[int, dict[str, Any]], rtt: float) -> None:
        self.members = members
        self.rtt = rtt
        self.ws: DiscordWebSocket | None = None
        self.closed = False
        self.requests = 0
        self.ids_asked = 0
        self._answers: set[asyncio.Task[None]] = set()

    async def send_str(self, data: str) -> None:
        payload = json.loads(data)
        if payload.get("op") == DiscordWebSocket.REQUEST_MEMBERS:
            self.requests += 1
            self.ids_asked += len(payload["d"].get("user_ids") or [])
            asyncio.get_running_loop().call_later(self.rtt, self._answer, payload["d"])

    def _answer(self, request: dict[str, Any]) -> None:
        ids = [int(u) for u in request.get("user_ids") or []]
        chunk = {
            "op": 0,
            "s": None,
            "t": "GUILD_MEMBERS_CHUNK",
            "d": {
                "guild_id": str(request["guild_id"]),
                "members": [self.members[i] for i in ids if i in self.members],
                "not_found": [str(i) for i in ids if i not in self.members],
                "chunk_index": 0,
                "chunk_count": 1,
                "nonce": request.get("nonce"),
            },
        }
        assert self.ws is not None
        task = asyncio.ensure_future(self.ws.received_message(json.dumps(chunk)))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def close(self, code: int = 1000) -> None:
        self.closed = True


# -- stream ----------------------------------------------------------------------------------


@dataclass
class Flush:
    at: float  # perf_counter at its start
    seconds: float
    write_seconds: float
    rows: int


@dataclass
class StreamResult:
    backend: str
    run: int
    rate: float
    seconds: float
    authors: int
    sent: int
    counted_at_end: int  # by the listener when the last frame had been handed over
    counted: int  # by the listener after the drain
    in_database: int  # sum of messages in activity_counts
    sender_lag: list[float]  # seconds, per frame
    counted_lag: list[float]  # seconds, per counted frame
    stream_wall: float  # first frame due .. last frame handed over
    drain: float  # last frame handed over .. everything written
    flushes: list[Flush]
    awarded: int
    revoked: int
    evaluations: int
    commits: int
    statements: int
    dml_statements: int
    dml_rows: int
    cpu: float
    server_cpu: float | None
    rss_before: float
    rss_after: float
    peak_rss: float
    frame_bytes: int
    raw_bytes: int
    load: tuple[float, float]
    errors: list[str] = field(default_factory=list)
    gateway_rtt: float = 0.0
    lookups: int = 0  # calls of the bot's directory for members (before an automatic award)
    lookup_members: int = 0
    lookup_seconds: list[float] = field(default_factory=list)
    member_requests: int = 0  # REQUEST_GUILD_MEMBERS sent on the gateway

    @property
    def wall(self) -> float:
        return self.stream_wall + self.drain


class ErrorLog(logging.Handler):
    """Errors logged by the bot during the run (a failed flush says so in the table)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


async def start_bot(database: Database, url: str, flush_seconds: float) -> BadgeBot:
    """The bot as ``badgebot run`` builds it, set up without logging in: discord.py's loop
    objects, a ClientUser as READY would set, then the real setup_hook (extensions, loops,
    change feed) minus the command sync, which needs Discord."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        activity_flush_seconds=flush_seconds,
    )
    bot = create_bot(settings, database=database)
    await bot._async_setup_hook()
    user = {
        "id": str(BOT_ID),
        "username": "badgebot",
        "discriminator": "0",
        "avatar": None,
        "bot": True,
        "verified": True,
        "mfa_enabled": False,
        "flags": 0,
    }
    bot._connection.user = discord.ClientUser(state=bot._connection, data=user)  # type: ignore[arg-type]

    async def no_sync() -> bool:
        return False

    bot.sync_commands = no_sync  # type: ignore[method-assign]
    await bot.setup_hook()
    return bot


async def stream_run(args: argparse.Namespace, run: int) -> StreamResult:
    backend = args.backend
    url = url_for(backend, run)
    await fresh_schema(backend, run)
    now = datetime.now(UTC)
    built, raw_bytes, member_objects = frames(args, now)
    guild_frame, messages = built[0], built[1:]
    n = len(messages)
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    database = Database(url)
    bot = await start_bot(database, url, args.flush)
    try:
        await add_rules(bot)
        ws = gateway_for(bot)
        socket = GatewaySocket(member_objects, args.gateway_rtt)
        if args.gateway_rtt > 0:  # connected: member look-ups go to the "gateway"
            ws.socket = socket  # type: ignore[assignment]
            socket.ws = ws
            bot.ws = ws
        await ws.received_message(guild_frame)
        await asyncio.sleep(0.1)  # guild_available's listeners
        if bot.get_guild(GUILD) is None:
            raise SystemExit("the GUILD_CREATE frame did not put the guild in discord.py's cache")
        counter = bot.counter

        # instruments: when each message was counted, how long each flush took, what the
        # evaluations did
        counted_at = [math.nan] * n
        count_message = counter.message

        def counted(message: discord.Message) -> None:
            count_message(message)
            i = message.id - MESSAGE_BASE
            if 0 <= i < n:
                counted_at[i] = time.perf_counter()

        counter.message = counted  # type: ignore[method-assign]
        flushes: list[Flush] = []
        flush = counter.flush
        flushing = asyncio.Event()
        flushing.set()  # set: no flush running

        async def timed_flush(*, evaluate: bool = True) -> int:
            flushing.clear()
            started = time.perf_counter()
            rows = counter.rows_written
            try:
                return await flush(evaluate=evaluate)
            finally:
                if counter.rows_written != rows:
                    flushes.append(
                        Flush(
                            started,
                            time.perf_counter() - started,
                            counter.last_flush_seconds,
                            counter.rows_written - rows,
                        )
                    )
                flushing.set()

        counter.flush = timed_flush  # type: ignore[method-assign]
        reports: list[EvaluationReport] = []
        evaluate = bot.service.rules.evaluate

        async def reported(guild_id: int, **kwargs: Any) -> EvaluationReport:
            report = await evaluate(guild_id, **kwargs)
            reports.append(report)
            return report

        bot.service.rules.evaluate = reported  # type: ignore[method-assign]
        lookups: list[tuple[int, float]] = []  # (members asked, seconds) per directory call
        look_up = bot.directory.members

        async def timed_lookup(guild_id: int, user_ids: Sequence[int]) -> Any:
            started = time.perf_counter()
            try:
                return await look_up(guild_id, user_ids)
            finally:
                lookups.append((len(user_ids), time.perf_counter() - started))

        bot.directory.members = timed_lookup  # type: ignore[method-assign]
        sql = SqlCounter(database)
        server = ServerCpu(database)

        # let the first flush of the loop go by (the rules' own writes), then start
        await asyncio.sleep(0.2)
        gc.collect()
        rss_before = rss_mib()
        server_before = await server.read()
        sql_before = sql.snapshot()
        lookups.clear()
        requests_before = socket.requests
        cpu_before = cpu_seconds()
        load_before = os.getloadavg()[0]
        sender_lag = [0.0] * n
        receive = ws.received_message
        rate = args.rate
        start = time.perf_counter() + 0.05
        for i, message in enumerate(messages):
            due = start + i / rate
            at = time.perf_counter()
            if at < due:
                await asyncio.sleep(due - at)
                at = time.perf_counter()
            else:
                await asyncio.sleep(0)  # one read of the socket per frame lets listeners run
            sender_lag[i] = at - due
            await receive(message)
        ended = time.perf_counter()
        await asyncio.sleep(0)
        counted_at_end = counter.tally.events
        # drain: the loop's next flush writes the rest
        deadline = ended + 10 * args.flush + 60
        while time.perf_counter() < deadline:
            await flushing.wait()
            if len(counter.tally) == 0 and not counter._touched:
                break
            await asyncio.sleep(0.05)
        drained = time.perf_counter()
        cpu = cpu_seconds() - cpu_before
        sql_after = sql.snapshot()
        server_after = await server.read()
        load_after = os.getloadavg()[0]
        rss_after = rss_mib()
        async with database.engine.connect() as conn:
            in_database = (
                await conn.execute(
                    select(func.coalesce(func.sum(ACTIVITY_COUNTS.c.messages), 0)).where(
                        ACTIVITY_COUNTS.c.guild_id == GUILD
                    )
                )
            ).scalar_one()
        commits, statements, dml, dml_rows = (
            a - b for a, b in zip(sql_after, sql_before, strict=True)
        )
        return StreamResult(
            backend=backend,
            run=run,
            rate=rate,
            seconds=args.seconds,
            authors=args.authors,
            sent=n,
            counted_at_end=counted_at_end,
            counted=counter.tally.events,
            in_database=int(in_database),
            sender_lag=sender_lag,
            counted_lag=[c - (start + i / rate) for i, c in enumerate(counted_at) if c == c],
            stream_wall=ended - start,
            drain=drained - ended,
            flushes=[f for f in flushes if start <= f.at <= drained],
            awarded=sum(r.awarded for r in reports),
            revoked=sum(r.revoked for r in reports),
            evaluations=len(reports),
            commits=commits,
            statements=statements,
            dml_statements=dml,
            dml_rows=dml_rows,
            cpu=cpu,
            server_cpu=ServerCpu.used(server_before, server_after),
            rss_before=rss_before,
            rss_after=rss_after,
            peak_rss=peak_rss_mib(),
            frame_bytes=sum(len(m) for m in messages),
            raw_bytes=raw_bytes,
            load=(load_before, load_after),
            errors=errors.messages,
            gateway_rtt=args.gateway_rtt,
            lookups=len(lookups),
            lookup_members=sum(n for n, _ in lookups),
            lookup_seconds=[t for _, t in lookups],
            member_requests=socket.requests - requests_before,
        )
    finally:
        await bot.close()
        await database.dispose()
        logging.getLogger().removeHandler(errors)
        if backend == "sqlite":
            remove_sqlite(sqlite_path(run))


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def stream_tables(results: list[StreamResult]) -> str:
    ms = 1000
    lines = [
        "| backend | run | rate/s x s | authors | sent | counted (listener) at stream end "
        "| in database after drain | sender lag avg / p99 / max ms | counted lag p50 / p99 / "
        "max ms | stream wall s | drain s |",
        "|---|---:|---|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for r in results:
        lag, cl = r.sender_lag, r.counted_lag
        lines.append(
            f"| {r.backend} | {r.run} | {r.rate:g} x {r.seconds:g} | {r.authors:,} "
            f"| {r.sent:,} | {r.counted_at_end:,} | {r.in_database:,} "
            f"| {ms * statistics.fmean(lag):.1f} / {ms * pct(lag, 0.99):.1f} / {ms * max(lag):.1f} "
            f"| {ms * pct(cl, 0.5):.1f} / {ms * pct(cl, 0.99):.1f} / {ms * max(cl):.1f} "
            f"| {r.stream_wall:.2f} | {r.drain:.2f} |"
        )
    lines += [
        "",
        "| backend | run | flushes | flush p50 / max ms | of which write p50 / max ms "
        "| activity rows/s | write tx/s | DML rows/s | statements/s | awards | CPU s "
        "| CPU % of a core | PG backends CPU s | RSS before / after / peak MiB | load |",
        "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        secs = [f.seconds for f in r.flushes]
        writes = [f.write_seconds for f in r.flushes]
        rows = sum(f.rows for f in r.flushes)
        server = "-" if r.server_cpu is None else f"{r.server_cpu:.1f}"
        lines.append(
            f"| {r.backend} | {r.run} | {len(r.flushes)} "
            f"| {ms * pct(secs, 0.5):.0f} / {ms * max(secs, default=0):.0f} "
            f"| {ms * pct(writes, 0.5):.0f} / {ms * max(writes, default=0):.0f} "
            f"| {rows / r.wall:,.0f} | {r.commits / r.wall:.1f} | {r.dml_rows / r.wall:,.0f} "
            f"| {r.statements / r.wall:.1f} | {r.awarded:,} | {r.cpu:.1f} "
            f"| {100 * r.cpu / r.wall:.0f} % | {server} "
            f"| {r.rss_before:.0f} / {r.rss_after:.0f} / {r.peak_rss:.0f} "
            f"| {r.load[0]:.2f}-{r.load[1]:.2f} |"
        )
    lines += [
        "",
        "| backend | run | gateway RTT ms | member look-ups | members asked | member requests sent "
        "| look-up p50 / max / total s |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        t = r.lookup_seconds
        lines.append(
            f"| {r.backend} | {r.run} | "
            + (f"{1000 * r.gateway_rtt:.0f}" if r.gateway_rtt else "not connected")
            + f" | {r.lookups} | {r.lookup_members:,} | {r.member_requests} "
            f"| {pct(t, 0.5):.2f} / {max(t, default=0):.2f} / {sum(t):.1f} |"
        )
    lines.append("")
    for r in results:
        lines.append(
            f"{r.backend} run {r.run}: {r.frame_bytes / r.sent:.0f} compressed bytes per frame "
            f"({r.raw_bytes / r.sent:.0f} as JSON); listener counted {r.counted:,} in all; "
            f"{r.evaluations} incremental evaluations, {r.revoked} revoked; "
            f"{r.dml_statements:,} DML statements; CPU per event "
            f"{1e6 * r.cpu / max(r.sent, 1):.0f} us; flush durations s: "
            + ", ".join(f"{f.seconds:.2f}" for f in r.flushes)
            + (f"; ERRORS: {r.errors[:3]}" if r.errors else "")
        )
    return "\n".join(lines)


# -- full pass -------------------------------------------------------------------------------


def history(args: argparse.Namespace, now: datetime) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """(table, batch of rows): member records for everyone, then the activity of the active
    members (deterministic for a seed)."""
    rng = random.Random(args.seed)
    members = []
    for i in range(args.members):
        boosting = now - timedelta(days=rng.randrange(1, 700)) if rng.random() < 0.02 else None
        members.append((GUILD, MEMBER_BASE + 1 + i, joined_at(rng, now), boosting))
        if len(members) == BATCH:
            yield "member_records", members
            members = []
    if members:
        yield "member_records", members
    today = day_number(now)
    active = rng.sample(range(args.members), args.active)
    rows: list[tuple[Any, ...]] = []
    for rank, i in enumerate(active):
        user_id = MEMBER_BASE + 1 + i
        level = 40 / (rank + 1) ** 0.6  # messages on an active day: Zipf-like over members
        home = rng.randrange(CHANNELS)
        days = 1 + int((args.days - 1) * rng.random() ** 2)
        voice = rng.random() < 0.1
        channels_used: set[int] = set()
        for day in rng.sample(range(today - args.days + 1, today + 1), days):
            for channel in {home, *rng.sample(range(CHANNELS), rng.randrange(0, 3))}:
                channels_used.add(channel)
                messages = 1 + int(rng.expovariate(1 / max(level, 0.5)))
                paced = max(1, int(messages * rng.uniform(0.5, 1.0)))
                reactions = int(rng.expovariate(1 / (0.3 * messages + 0.01)))
                minutes = int(rng.expovariate(1 / 60)) if voice and channel == home else 0
                rows.append(
                    (
                        GUILD,
                        user_id,
                        day,
                        CHANNEL_BASE + channel,
                        messages,
                        paced,
                        reactions,
                        minutes,
                    )
                )
        for channel in channels_used:  # rolled-up older history (day 0)
            messages = int(rng.expovariate(1 / (level * days + 1)))
            rows.append(
                (
                    GUILD,
                    user_id,
                    0,
                    CHANNEL_BASE + channel,
                    messages,
                    messages // 2,
                    messages // 4,
                    int(rng.expovariate(1 / 200)) if voice else 0,
                )
            )
        if len(rows) >= BATCH:
            yield "activity_counts", rows
            rows = []
    if rows:
        yield "activity_counts", rows


async def seed_history(args: argparse.Namespace, run: int, now: datetime) -> tuple[int, int]:
    database = Database(url_for(args.backend, run))
    engine = database.engine
    counts = {"member_records": 0, "activity_counts": 0}
    tables = {"member_records": MEMBER_RECORDS, "activity_counts": ACTIVITY_COUNTS}
    try:
        async with engine.connect() as conn:
            for table, batch in history(args, now):
                counts[table] += len(batch)
                async with conn.begin():
                    if args.backend == "postgresql":
                        raw = (await conn.get_raw_connection()).driver_connection
                        assert raw is not None
                        columns = [c.name for c in tables[table].columns]
                        await raw.copy_records_to_table(table, records=batch, columns=columns)
                    else:
                        columns = [c.name for c in tables[table].columns]
                        await conn.execute(
                            insert(tables[table]),
                            [dict(zip(columns, row, strict=True)) for row in batch],
                        )
        if args.backend == "postgresql":
            async with engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.exec_driver_sql("VACUUM ANALYZE")
        else:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE")
            async with engine.begin() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await database.dispose()
    return counts["member_records"], counts["activity_counts"]


def seed_process(args: argparse.Namespace, run: int, now: datetime) -> tuple[float, int, int]:
    started = time.perf_counter()
    members, rows = asyncio.run(seed_history(args, run, now))
    return time.perf_counter() - started, members, rows


@dataclass
class PassResult:
    backend: str
    run: int
    members: int
    active: int
    rows: int
    seed_seconds: float
    passes: list[tuple[str, float, EvaluationReport, float, float | None, int, int]]
    # (name, seconds, report, CPU s, PG backends CPU s, write tx, DML rows)
    peak_rss: float
    load: tuple[float, float]
    held: tuple[tuple[str, int], ...] = ()


async def timed_passes(args: argparse.Namespace, run: int) -> list[Any]:
    """The two timed passes, then the badges' holder counts (name, count)."""
    url = url_for(args.backend, run)
    database = Database(url)
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    bot = create_bot(settings, database=database)
    sql = SqlCounter(database)
    server = ServerCpu(database)
    out: list[Any] = []
    try:
        await bot.service.rules.guilds()  # open the pool
        gc.collect()
        gc.freeze()
        for name in ("first pass", "second pass"):
            async with database.engine.begin() as conn:  # the top 10's rotation is due
                await conn.execute(update(BADGE_POLICIES).values(rotated_at=None))
            server_before = await server.read()
            sql_before = sql.snapshot()
            cpu_before = cpu_seconds()
            started = time.perf_counter()
            report = await bot.service.rules.evaluate(GUILD)
            seconds = time.perf_counter() - started
            cpu = cpu_seconds() - cpu_before
            sql_after = sql.snapshot()
            server_cpu = ServerCpu.used(server_before, await server.read())
            out.append(
                (
                    name,
                    seconds,
                    report,
                    cpu,
                    server_cpu,
                    sql_after[0] - sql_before[0],
                    sql_after[3] - sql_before[3],
                )
            )
        async with database.engine.connect() as conn:
            held = (
                await conn.execute(
                    select(BADGES.c.name, BADGES.c.awarded_count)
                    .where(BADGES.c.guild_id == GUILD)
                    .order_by(BADGES.c.name)
                )
            ).all()
        out.append(tuple(held))
    finally:
        await bot.close()
        await database.dispose()
    return out


async def prepare_pass(args: argparse.Namespace, run: int) -> None:
    """Fresh schema, then the badges and rules while the guild is empty."""
    await fresh_schema(args.backend, run)
    url = url_for(args.backend, run)
    database = Database(url)
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    bot = create_bot(settings, database=database)
    try:
        await add_rules(bot)
    finally:
        await bot.close()
        await database.dispose()


def pass_run(args: argparse.Namespace, run: int) -> PassResult:
    now = datetime.now(UTC)
    asyncio.run(prepare_pass(args, run))
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        seed_seconds, members, rows = pool.submit(seed_process, args, run, now).result()
    load_before = os.getloadavg()[0]
    try:
        *passes, held = asyncio.run(timed_passes(args, run))
    finally:
        if args.backend == "sqlite":
            remove_sqlite(sqlite_path(run))
    return PassResult(
        args.backend,
        run,
        members,
        args.active,
        rows,
        seed_seconds,
        passes,
        peak_rss_mib(),
        (load_before, os.getloadavg()[0]),
        held,
    )


def pass_table(results: list[PassResult]) -> str:
    lines = [
        "| backend | run | members | active | activity rows | pass | seconds | awarded "
        "| revoked | badges evaluated | CPU s | PG backends CPU s | write tx | DML rows | load |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for name, seconds, report, cpu, server, commits, dml_rows in r.passes:
            srv = "-" if server is None else f"{server:.1f}"
            lines.append(
                f"| {r.backend} | {r.run} | {r.members:,} | {r.active:,} | {r.rows:,} | {name} "
                f"| {seconds:.2f} | {report.awarded:,} | {report.revoked:,} | {report.badges} "
                f"| {cpu:.1f} | {srv} | {commits:,} | {dml_rows:,} "
                f"| {r.load[0]:.2f}-{r.load[1]:.2f} |"
            )
    lines.append("")
    for r in results:
        lines.append(
            f"{r.backend} run {r.run}: seeded in {r.seed_seconds:.1f} s (child process); "
            f"measuring process peak RSS {r.peak_rss:.0f} MiB; holders after: "
            + ", ".join(f"{name} {n:,}" for name, n in r.held)
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--scenario", choices=["stream", "pass", "both"], default="both")
    parser.add_argument("--runs", type=int, default=1, help="repeat each scenario")
    parser.add_argument("--rate", type=float, default=1000.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the stream")
    parser.add_argument("--authors", type=int, default=20_000, help="distinct members writing")
    parser.add_argument("--flush", type=float, default=5.0, help="activity_flush_seconds")
    parser.add_argument(
        "--gateway-rtt",
        type=float,
        default=0.05,
        help="seconds until the gateway answers a member request; 0: not connected",
    )
    parser.add_argument("--members", type=int, default=100_000, help="pass: member records")
    parser.add_argument("--active", type=int, default=40_000, help="pass: members with counts")
    parser.add_argument("--days", type=int, default=30, help="pass: days of daily counts")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.rate <= 0 or args.seconds <= 0 or args.authors < 1 or args.runs < 1:
        parser.error("need --rate > 0, --seconds > 0, --authors >= 1, --runs >= 1")
    if not 1 <= args.active <= args.members or not 1 <= args.days <= 365:
        parser.error("need 1 <= --active <= --members and 1 <= --days <= 365")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord").setLevel(logging.ERROR)
    if args.scenario in ("stream", "both"):
        streams = [asyncio.run(stream_run(args, run)) for run in range(1, args.runs + 1)]
        print(f"## stream: {args.backend}\n")
        print(stream_tables(streams))
        print()
    if args.scenario in ("pass", "both"):
        passes = [pass_run(args, run) for run in range(1, args.runs + 1)]
        print(f"## full evaluation pass: {args.backend}\n")
        print(pass_table(passes))


if __name__ == "__main__":
    main()
