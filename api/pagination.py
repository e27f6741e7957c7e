"""Opaque cursors for keyset pages: the last item's key, tagged with the list it belongs to."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from api.errors import ApiError, field_error

LIMIT_DEFAULT = 50
LIMIT_MAX = 100


def encode(walk: str, key: tuple[Any, ...] | None) -> str | None:
    """The cursor that continues ``walk`` after ``key``; None when there is nothing more."""
    if key is None:
        return None
    parts = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in key]
    raw = json.dumps([walk, parts], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _utc(at: datetime) -> datetime:
    """A cursor's time in UTC, within the years the databases store."""
    if at.tzinfo is None:
        raise ValueError("naive time")
    utc = at.astimezone(UTC)
    if not 2000 <= utc.year <= 9000:
        raise ValueError("time out of range")
    return utc


def decode(walk: str, cursor: str | None) -> tuple[Any, ...] | None:
    """The key a cursor carries; a 422 if it is not a cursor of this list."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, parts = json.loads(raw)
        if tag != walk or not isinstance(parts, list):
            raise ValueError(tag)
        key = tuple(datetime.fromisoformat(p["t"]) if isinstance(p, dict) else p for p in parts)
        key = tuple(_utc(v) if isinstance(v, datetime) else v for v in key)
    except (
        ValueError,
        TypeError,
        KeyError,
        OverflowError,
        RecursionError,
        binascii.Error,
        UnicodeDecodeError,
    ) as exc:
        message = "not a cursor of this list; pass the nextCursor of the previous page."
        raise ApiError(
            422,
            "invalid_input",
            f"cursor: {message}",
            details=field_error("cursor", message, "cursor"),
        ) from exc
    return key
