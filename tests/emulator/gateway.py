"""The emulated gateway: HELLO, heartbeats, IDENTIFY to READY and GUILD_CREATE, RESUME with
replay, member chunks, and dispatches, over a websocket with zlib-stream compression when the
client asks for it (discord.py does).

A session outlives its socket: events dispatched while a client is disconnected are kept, and
a RESUME replays those after the client's last sequence number. ``drop`` closes a socket with a
close code; ``refuse_resumes`` answers every RESUME with an invalid session (op 9, false), so
the client must identify again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, REQUEST_MEMBERS = 0, 1, 2, 6, 8
RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 7, 9, 10, 11
GUILD_MEMBERS_INTENT = 1 << 1
HEARTBEAT_MS = 41_250
CHUNK = 1000
REPLAY_LIMIT = 10_000


@dataclass
class Session:
    """One identified gateway session (a shard)."""

    id: str
    shard: tuple[int, int]
    intents: int
    large_threshold: int = 50
    sequence: int = 0
    sent: list[tuple[int, str]] = field(default_factory=list)  # (seq, JSON) for resumes
    socket: Connection | None = None

    def owns(self, guild_id: int) -> bool:
        shard_id, count = self.shard
        return (guild_id >> 22) % count == shard_id

    def wants(self, event: str) -> bool:
        if event.startswith("GUILD_MEMBER") and event != "GUILD_MEMBERS_CHUNK":
            return bool(self.intents & GUILD_MEMBERS_INTENT)
        return True


class Connection:
    """One websocket: compression, frames, and what it has sent."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        self._deflate = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()

    async def send(self, payload: str) -> None:
        async with self._lock:
            if self.ws.closed:
                return
            if self._deflate is None:
                await self.ws.send_str(payload)
                return
            data = self._deflate.compress(payload.encode()) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
            await self.ws.send_bytes(data)


class Gateway:
    """Sessions, sockets and the dispatching of events to the shard that owns a guild."""

    def __init__(
        self,
        *,
        ready: Callable[[Session], list[dict[str, Any]]],
        ready_payload: Callable[[Session], dict[str, Any]],
        members: Callable[[int, list[int] | None, str, int], list[dict[str, Any]]],
    ) -> None:
        self._guild_creates = ready
        self._ready_payload = ready_payload
        self._members = members
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()  # every open socket, identified or not
        self.refuse_resumes = False
        self.identifies = 0
        self.resumes = 0
        self.down = False  # refuse new sockets (Discord unreachable)
        self.connected = asyncio.Event()

    # -- dispatching ---------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any], *, guild_id: int | None) -> None:
        """Send ``event`` to every session that owns ``guild_id`` (all sessions if None)."""
        for session in list(self.sessions.values()):
            if guild_id is not None and not session.owns(guild_id):
                continue
            if session.wants(event):
                await self._send_dispatch(session, event, data)

    async def _send_dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.sequence += 1
        payload = json.dumps({"op": DISPATCH, "t": event, "s": session.sequence, "d": data})
        session.sent.append((session.sequence, payload))
        if len(session.sent) > REPLAY_LIMIT:
            del session.sent[: len(session.sent) - REPLAY_LIMIT]
        if session.socket is not None:
            await session.socket.send(payload)

    # -- faults --------------------------------------------------------------------------

    async def drop(self, code: int = 4000) -> None:
        """Close every open socket with ``code`` (4000: unknown error, the client resumes),
        identified or not."""
        for session in self.sessions.values():
            session.socket = None
        for connection in list(self.connections):
            await connection.ws.close(code=code, message=b"emulator drop")

    async def send_reconnect(self) -> None:
        """Ask every client to reconnect (op 7), as Discord does before maintenance."""
        for session in self.sessions.values():
            if session.socket is not None:
                await session.socket.send(json.dumps({"op": RECONNECT, "d": None}))

    # -- the socket ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.down:
            raise web.HTTPServiceUnavailable()
        # a close waits at most 2 s for the client's answer (a stopped client sends none)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0, timeout=2.0)
        await ws.prepare(request)
        connection = Connection(ws, compress=request.query.get("compress") == "zlib-stream")
        self.connections.add(connection)
        await connection.send(json.dumps({"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_MS}}))
        session: Session | None = None
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(message.data)
                session = await self._on_frame(connection, session, frame) or session
        finally:
            self.connections.discard(connection)
            if session is not None and session.socket is connection:
                session.socket = None
        return ws

    async def _on_frame(
        self, connection: Connection, session: Session | None, frame: dict[str, Any]
    ) -> Session | None:
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            await connection.send(json.dumps({"op": HEARTBEAT_ACK, "d": None}))
        elif op == IDENTIFY:
            return await self._identify(connection, data)
        elif op == RESUME:
            return await self._resume(connection, data)
        elif op == REQUEST_MEMBERS and session is not None:
            await self._chunks(session, data)
        return None

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> Session:
        self.identifies += 1
        shard = tuple(data.get("shard") or (0, 1))
        session = Session(
            secrets.token_hex(16),
            (int(shard[0]), int(shard[1])),
            data["intents"],
            int(data.get("large_threshold") or 50),
        )
        self.sessions[session.id] = session
        session.socket = connection
        await self._send_dispatch(session, "READY", self._ready_payload(session))
        for guild in self._guild_creates(session):
            await self._send_dispatch(session, "GUILD_CREATE", guild)
        self.connected.set()
        return session

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> Session | None:
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or self.refuse_resumes:
            if session is not None:
                del self.sessions[session.id]
            await connection.send(json.dumps({"op": INVALID_SESSION, "d": False}))
            return None
        self.resumes += 1
        session.socket = connection
        since = data.get("seq") or 0
        for seq, payload in list(session.sent):
            if seq > since:
                await connection.send(payload)
        await self._send_dispatch(session, "RESUMED", {})
        self.connected.set()
        return session

    async def _chunks(self, session: Session, data: dict[str, Any]) -> None:
        guild_id = int(data["guild_id"])
        user_ids = [int(u) for u in data["user_ids"]] if data.get("user_ids") else None
        found = self._members(guild_id, user_ids, data.get("query") or "", data.get("limit") or 0)
        chunks = [found[i : i + CHUNK] for i in range(0, len(found), CHUNK)] or [[]]
        found_ids = {m["user"]["id"] for m in found}
        missing = [str(u) for u in user_ids or () if str(u) not in found_ids]
        for index, members in enumerate(chunks):
            chunk: dict[str, Any] = {
                "guild_id": str(guild_id),
                "members": members,
                "chunk_index": index,
                "chunk_count": len(chunks),
                "not_found": missing if index == 0 else [],
            }
            if data.get("nonce"):
                chunk["nonce"] = data["nonce"]
            await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)
