"""Validation and normalisation of badge fields. Each rule raises InvalidInput naming the field."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

import emoji

from badges.errors import InvalidInput

NAME_MAX = 100
SLUG_MAX = 64
DESCRIPTION_MAX = 1000
REASON_MAX = 500
ICON_URL_MAX = 512

_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CUSTOM_EMOJI_RE = re.compile(r"<a?:[A-Za-z0-9_]{2,32}:[0-9]{15,21}>")
_HEX_RE = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def name(value: str) -> str:
    """Trimmed badge name, 1 to 100 characters, inner whitespace collapsed."""
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidInput("name", "The badge name cannot be empty.")
    if len(cleaned) > NAME_MAX:
        raise InvalidInput(
            "name", f"The badge name is {len(cleaned)} characters long; the limit is {NAME_MAX}."
        )
    return cleaned


def name_key(value: str) -> str:
    """The form in which names are compared: two names differing only in case collide."""
    return unicodedata.normalize("NFKC", value).casefold()


def slug(value: str) -> str:
    """A given slug: lowercase ASCII letters, digits and single dashes, at most 64 characters."""
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput("slug", "The slug cannot be empty.")
    if len(cleaned) > SLUG_MAX:
        raise InvalidInput(
            "slug", f"The slug is {len(cleaned)} characters long; the limit is {SLUG_MAX}."
        )
    if not _SLUG_RE.fullmatch(cleaned):
        raise InvalidInput(
            "slug",
            f"'{cleaned}' is not a valid slug: use lowercase letters a-z, digits and single "
            "dashes between them (for example 'early-adopter').",
        )
    return cleaned


def slug_from_name(value: str) -> str:
    """Derive a slug from a name: ASCII-folded, lowercase, words joined by single dashes."""
    ascii_name = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_name.lower())
    derived = "-".join(words)[:SLUG_MAX].strip("-")
    return derived or "badge"


def with_suffix(base: str, n: int) -> str:
    """``base`` with ``-n`` appended, shortened so the result stays within the slug limit."""
    suffix = f"-{n}"
    return base[: SLUG_MAX - len(suffix)].rstrip("-") + suffix


def description(value: str | None) -> str | None:
    """Trimmed description of at most 1000 characters; empty means none."""
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if len(cleaned) > DESCRIPTION_MAX:
        raise InvalidInput(
            "description",
            f"The description is {len(cleaned)} characters long; the limit is {DESCRIPTION_MAX}.",
        )
    return cleaned


def reason(value: str | None) -> str | None:
    """Trimmed reason of at most 500 characters; empty means none."""
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if len(cleaned) > REASON_MAX:
        raise InvalidInput(
            "reason", f"The reason is {len(cleaned)} characters long; the limit is {REASON_MAX}."
        )
    return cleaned


def icon(value: str | None) -> str | None:
    """A Unicode emoji, a custom Discord emoji (``<:name:id>``, ``<a:name:id>``) or an https URL."""
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if cleaned.startswith(("http://", "https://")):
        parts = urlsplit(cleaned)
        if parts.scheme != "https" or not parts.netloc or " " in cleaned:
            raise InvalidInput("icon", "An icon URL must be a valid https:// address.")
        if len(cleaned) > ICON_URL_MAX:
            raise InvalidInput(
                "icon", f"The icon URL is {len(cleaned)} characters long; the limit is 512."
            )
        return cleaned
    if _CUSTOM_EMOJI_RE.fullmatch(cleaned) or emoji.is_emoji(cleaned):
        return cleaned
    raise InvalidInput(
        "icon",
        f"'{cleaned[:40]}' is not an icon: use one emoji (🏆), a custom server emoji "
        "(<:name:id>) or an https:// image URL.",
    )


def color(value: str | None) -> str | None:
    """A colour as ``#RRGGBB``; accepts ``RRGGBB`` and ``#RGB``; empty means none."""
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    match = _HEX_RE.fullmatch(cleaned)
    if match is None:
        raise InvalidInput(
            "color",
            f"'{cleaned[:20]}' is not a colour: use a hex code like #FF5733 (or #F53).",
        )
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return "#" + digits.upper()


def snowflake(field: str, value: int) -> int:
    """A Discord id: a positive 64-bit integer."""
    if not 0 < value < 2**63:
        raise InvalidInput(field, f"{value} is not a valid Discord id.")
    return value
