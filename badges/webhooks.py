"""Outgoing webhooks: which changes are sent, their JSON, their signature, their retries, and
which addresses they may go to (never loopback or private networks: server-side request
forgery)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import urlsplit

from badges.model import AuditEvent, EventKind

EVENT_TYPES = {
    EventKind.BADGE_CREATED: "badge.created",
    EventKind.BADGE_UPDATED: "badge.updated",
    EventKind.BADGE_DELETED: "badge.deleted",
    EventKind.AWARDED: "award.created",
    EventKind.REVOKED: "award.revoked",
}
RETRY_FOR = timedelta(days=1)
"""A delivery is retried with backoff for this long, then given up."""
URL_MAX = 512
SIGNATURE_HEADER = "Badgebot-Signature"

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Host and port -> the IP addresses a connection would go to."""


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """Where webhooks may go. The defaults are the only safe ones; tests against a local
    receiver relax them."""

    allow_http: bool = False
    allow_private: bool = False


STRICT = UrlPolicy()


def event_type(kind: EventKind) -> str | None:
    return EVENT_TYPES.get(kind)


def _stamp(event: AuditEvent) -> str:
    return event.at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_id(event: AuditEvent) -> str:
    """Stable per change: a receiver that sees it twice (a retry) knows it is the same."""
    return f"evt_{event.id}"


def payload(event: AuditEvent, sequence: int) -> dict[str, Any]:
    """The JSON of one change, as a receiver gets it."""
    data: dict[str, Any] = {
        "badgeId": event.badge_id,
        "badgeName": event.badge_name,
        "actor": {"id": str(event.actor_id), "username": event.actor_name},
    }
    if event.user_id is not None:
        data["userId"] = str(event.user_id)
    if event.reason is not None:
        data["reason"] = event.reason
    if event.kind in (EventKind.BADGE_UPDATED, EventKind.BADGE_DELETED) and event.before:
        data["before"] = event.before
    if event.kind in (EventKind.BADGE_CREATED, EventKind.BADGE_UPDATED) and event.after:
        data["after"] = event.after
    return {
        "id": event_id(event),
        "type": EVENT_TYPES[event.kind],
        "sequence": sequence,
        "guildId": str(event.guild_id),
        "createdAt": _stamp(event),
        "data": data,
    }


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>``: the receiver recomputes it
    with the webhook's secret, and refuses old timestamps (replays)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 10 s, 20 s, 40 s, ... at most an hour."""
    return timedelta(seconds=min(3600, 10 * 2 ** max(0, attempts - 1)))


def url_problem(url: str, policy: UrlPolicy = STRICT) -> str | None:
    """Why the URL cannot receive webhooks, or None. Names are resolved at delivery."""
    if len(url) > URL_MAX:
        return f"The URL is {len(url)} characters long; the limit is {URL_MAX}."
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "The URL cannot contain spaces or control characters."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "That is not a valid URL."
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in allowed:
        return "Webhooks are sent to https:// URLs only."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username is not None or parts.password is not None:
        return "The URL cannot carry a user name or password; put a secret in its path."
    if port is not None and port < 1024 and port not in (80, 443):
        return "Webhooks go to port 443, 80 or a port from 1024 up."
    host = parts.hostname
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return (
            None
            if policy.allow_private
            else "Webhooks cannot go to this machine or a local network."
        )
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return address_problem([host], policy)


def address_problem(addresses: Iterable[str], policy: UrlPolicy = STRICT) -> str | None:
    """Why a connection to these addresses is refused: any that is not on the public
    internet (loopback, private, link-local, multicast, reserved, cloud metadata)."""
    found = list(addresses)
    if not found:
        return "The URL's host does not resolve."
    if policy.allow_private:
        return None
    for text in found:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return "The URL's host does not resolve to an IP address."
        if not _public(address):
            return "Webhooks cannot go to this machine or a private network."
    return None


# IPv6 ranges that carry an IPv4 address (NAT64, IPv4-compatible, IPv4-translated) or are
# deprecated site-local: judged by what they lead to, or refused
_EMBEDS_V4 = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("::ffff:0:0:0/96"),
)
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _public(address.ipv4_mapped)
        if address in _SITE_LOCAL:
            return False
        if any(address in net for net in _EMBEDS_V4):
            return _public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (none if it does not resolve)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
