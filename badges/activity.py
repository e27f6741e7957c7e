"""Activity counted in memory between flushes: messages, reactions received, minutes in
voice, per member, channel and day. Only counts: nothing a member wrote is kept.

The adapter reports events as they arrive; every few seconds the service takes what was
gathered and writes it in one transaction. A crash loses what was not flushed yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from badges.automation import COOLDOWN_SECONDS, MemberRecord, day_number


@dataclass(frozen=True, slots=True)
class ActivityCount:
    """Activity of one member in one channel on one day (a day number, see ``day_number``)."""

    guild_id: int
    user_id: int
    day: int
    channel_id: int
    messages: int = 0
    paced_messages: int = 0
    """Messages counted at most once a minute (for rules with a cooldown)."""
    reactions: int = 0
    voice_minutes: int = 0


_Key = tuple[int, int, int, int]  # guild, user, day, channel


class ActivityTally:
    """What was counted since the last flush. Not thread-safe; one per event loop."""

    def __init__(self, *, cooldown_seconds: float = COOLDOWN_SECONDS) -> None:
        self._cooldown = cooldown_seconds
        self._counts: dict[_Key, list[int]] = {}
        self._paced_at: dict[tuple[int, int, int], float] = {}
        """When each member's last paced message was counted, per channel (a message in a
        channel a rule leaves out must not use up the cooldown of the others)."""
        self._members: dict[tuple[int, int], MemberRecord] = {}
        self.events = 0
        """Events counted since start (messages, reactions, voice minutes credited)."""

    def __len__(self) -> int:
        return len(self._counts) + len(self._members)

    def _add(self, key: _Key, index: int, amount: int) -> None:
        row = self._counts.get(key)
        if row is None:
            row = self._counts[key] = [0, 0, 0, 0]
        row[index] += amount

    def message(self, guild_id: int, user_id: int, channel_id: int, at: datetime) -> None:
        key = (guild_id, user_id, day_number(at), channel_id)
        self._add(key, 0, 1)
        stamp = at.timestamp()
        paced = (guild_id, user_id, channel_id)
        last = self._paced_at.get(paced)
        if last is None or stamp - last >= self._cooldown:
            self._paced_at[paced] = stamp
            self._add(key, 1, 1)
        self.events += 1

    def reaction(self, guild_id: int, author_id: int, channel_id: int, at: datetime) -> None:
        """A reaction the author of a message received."""
        self._add((guild_id, author_id, day_number(at), channel_id), 2, 1)
        self.events += 1

    def voice(
        self, guild_id: int, user_id: int, channel_id: int, minutes: int, at: datetime
    ) -> None:
        if minutes > 0:
            self._add((guild_id, user_id, day_number(at), channel_id), 3, minutes)
            self.events += 1

    def member(self, record: MemberRecord) -> None:
        """Remember when a member joined and since when they boost (latest wins)."""
        self._members[(record.guild_id, record.user_id)] = record

    def forget_member(self, guild_id: int, user_id: int) -> None:
        """A member left: what was seen of them is not written (their counts are)."""
        self._members.pop((guild_id, user_id), None)

    def take(self, now: datetime) -> tuple[list[ActivityCount], list[MemberRecord]]:
        """Everything gathered, and forget it (``restore`` puts it back if writing fails)."""
        counts = [
            ActivityCount(g, u, d, c, row[0], row[1], row[2], row[3])
            for (g, u, d, c), row in self._counts.items()
        ]
        members = list(self._members.values())
        self._counts = {}
        self._members = {}
        horizon = now.timestamp() - self._cooldown
        self._paced_at = {k: t for k, t in self._paced_at.items() if t > horizon}
        return counts, members

    def restore(self, counts: list[ActivityCount], members: list[MemberRecord]) -> None:
        for c in counts:
            key = (c.guild_id, c.user_id, c.day, c.channel_id)
            for index, amount in enumerate(
                (c.messages, c.paced_messages, c.reactions, c.voice_minutes)
            ):
                if amount:
                    self._add(key, index, amount)
        for record in members:
            self._members.setdefault((record.guild_id, record.user_id), record)


@dataclass(slots=True)
class _Session:
    channel_id: int
    credited_until: float


class VoiceClock:
    """Who is in which voice channel since when; whole minutes are credited to the tally as
    they pass (at each flush) and when a member leaves or moves."""

    def __init__(self, tally: ActivityTally) -> None:
        self._tally = tally
        self._sessions: dict[tuple[int, int], _Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def joined(self, guild_id: int, user_id: int, channel_id: int, at: datetime) -> None:
        self.left(guild_id, user_id, at)
        self._sessions[(guild_id, user_id)] = _Session(channel_id, at.timestamp())

    def left(self, guild_id: int, user_id: int, at: datetime) -> None:
        session = self._sessions.pop((guild_id, user_id), None)
        if session is not None:
            self._credit(guild_id, user_id, session, at)

    def tick(self, at: datetime) -> None:
        for (guild_id, user_id), session in self._sessions.items():
            self._credit(guild_id, user_id, session, at)

    def forget_guild(self, guild_id: int) -> None:
        for key in [k for k in self._sessions if k[0] == guild_id]:
            del self._sessions[key]

    def _credit(self, guild_id: int, user_id: int, session: _Session, at: datetime) -> None:
        minutes = int((at.timestamp() - session.credited_until) // 60)
        if minutes > 0:
            session.credited_until += minutes * 60
            self._tally.voice(guild_id, user_id, session.channel_id, minutes, at)
