"""Validation and normalisation of badge fields. Each rule raises InvalidInput naming the field.

Badge names come from strangers, so they are cleaned of what nobody can see (zero-width
characters, bidi controls, Hangul and Braille fillers, ...) and compared by a key under which
look-alikes collide (UTS #39 confusable skeleton, via ICU's SpoofChecker)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import urlsplit

import emoji
import icu  # type: ignore[import-untyped]
from anyascii import anyascii

from badges.errors import InvalidInput

NAME_MAX = 100
# Length of the ``badges.name_key`` column. ``name_key`` returns at most NAME_KEY_LIMIT
# characters, which leaves room for the "#<badge id>" suffix (36 characters and "#") that
# migration 0005 gives a badge whose key collided with an older badge of its guild.
NAME_KEY_MAX = 400
NAME_KEY_LIMIT = 360
SLUG_MAX = 64
DESCRIPTION_MAX = 1000
REASON_MAX = 500
ICON_URL_MAX = 512
ECHO_MAX = 40

_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CUSTOM_EMOJI_RE = re.compile(r"<a?:[A-Za-z0-9_]{2,32}:[0-9]{15,21}>")
_HEX_RE = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")

# Default_Ignorable_Code_Point of Unicode 16 (DerivedCoreProperties.txt; the tests check it
# against ICU's set), plus fillers that render as blank but are not default-ignorable:
# U+2800 BRAILLE PATTERN BLANK and U+1D159 MUSICAL SYMBOL NULL NOTEHEAD. The Hangul fillers
# (U+115F, U+1160, U+3164, U+FFA0) are default-ignorable already.
_INVISIBLE_RE = re.compile(
    "["
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
    "\u2800\U0001d159"
    "]"
)
_ZWJ = "\u200d"
_VARIATION_SELECTORS = "\ufe0e\ufe0f"

_SPOOF_CHECKER = icu.SpoofChecker()


def _echo(text: str) -> str:
    """User text as quoted in a message: one line, nothing invisible, at most 40 characters."""
    visible = "".join(
        ch
        for ch in _visible(text, keep_emoji=True)
        # what survives of the default-ignorables belongs to an emoji
        if unicodedata.category(ch) not in ("Cf", "Cs") or _INVISIBLE_RE.match(ch)
    )
    return visible if len(visible) <= ECHO_MAX else visible[: ECHO_MAX - 1] + "…"


def _emoji_keep(value: str) -> set[int]:
    """Indexes of the characters that belong to emoji sequences and so must stay, although
    some are default-ignorable: the ZWJ of "👨‍👩‍👧", the VS16 of "⭐️", the tags of a flag."""
    keep: set[int] = set()
    spans = emoji.emoji_list(value)
    ends = {span["match_end"] for span in spans}
    starts = {span["match_start"] for span in spans}
    for span in spans:
        keep.update(range(span["match_start"], span["match_end"]))
        after = span["match_end"]
        if after < len(value) and value[after] in _VARIATION_SELECTORS:
            keep.add(after)
    for i, ch in enumerate(value):
        # a ZWJ between two emoji joins them, even in a sequence that is not recommended
        if ch == _ZWJ and (i in ends or i - 1 in keep) and i + 1 in starts:
            keep.add(i)
    return keep


def _is_control(ch: str) -> bool:
    """A control character or a lone surrogate (tab and line breaks count as whitespace)."""
    return unicodedata.category(ch) in ("Cc", "Cs") and not ch.isspace()


def _visible(value: str, *, keep_emoji: bool) -> str:
    """``value`` without invisible characters, controls and lone surrogates, whitespace
    collapsed to single spaces."""
    keep = _emoji_keep(value) if keep_emoji else set()
    kept = "".join(
        ch
        for i, ch in enumerate(value)
        if i in keep or ch.isspace() or not (_INVISIBLE_RE.match(ch) or _is_control(ch))
    )
    return " ".join(kept.split())


def name(value: str) -> str:
    """Badge name, 1 to 100 visible characters: invisible characters removed (except those
    that hold an emoji together), whitespace trimmed and collapsed, control characters refused."""
    if not value.strip():
        raise InvalidInput("name", "The badge name cannot be empty.")
    if any(_is_control(ch) for ch in value):
        raise InvalidInput(
            "name", "The badge name contains a control character; remove it and try again."
        )
    cleaned = _visible(value, keep_emoji=True)
    if not cleaned:
        raise InvalidInput("name", "The badge name has no visible characters.")
    if len(cleaned) > NAME_MAX:
        raise InvalidInput(
            "name", f"The badge name is {len(cleaned)} characters long; the limit is {NAME_MAX}."
        )
    return cleaned


TOKEN_NAME_MAX = 64


def token_name(value: str) -> str:
    """An API token's name, 1 to 64 visible characters, cleaned as badge names are."""
    try:
        cleaned = name(value)
    except InvalidInput as exc:
        raise InvalidInput("name", exc.message.replace("badge name", "token name")) from None
    if len(cleaned) > TOKEN_NAME_MAX:
        raise InvalidInput(
            "name",
            f"The token name is {len(cleaned)} characters long; the limit is {TOKEN_NAME_MAX}.",
        )
    return cleaned


def _skeleton(value: str) -> str:
    return str(_SPOOF_CHECKER.getSkeleton(0, value))


def name_key(value: str) -> str:
    """The form in which names are compared, unique per guild: names that differ only in case,
    in invisible characters, in width or by look-alike letters from other scripts collide.

    Invisible characters go, then NFKC and case folding; the skeleton of UTS #39 is taken of the
    upper case (Cyrillic "Н" looks like "H", while "н" looks like a small capital), then of the
    lower case until nothing changes. So "Helper", "HELPER", "Hel\u200bper", "Ｈｅｌｐｅｒ" and
    "Неlреr" share the key "helper"; so do "HeIper" and "Heiper" (I looks like l). Accents
    count: "Café" and "Cafe" are different names. The key depends on ICU's confusables data,
    so an ICU upgrade that changes it calls for recomputing the stored keys (as migration 0005
    does). Keys longer than NAME_KEY_LIMIT are cut and end in a hash of the whole key."""
    text = unicodedata.normalize("NFKC", _visible(value, keep_emoji=False)).casefold()
    key = _skeleton(text.upper())
    for _ in range(4):  # converges in at most two rounds on every code point of Unicode 16
        again = _skeleton(unicodedata.normalize("NFKC", key).casefold())
        if again == key:
            break
        key = again
    if len(key) > NAME_KEY_LIMIT:
        digest = hashlib.sha256(key.encode()).hexdigest()
        key = key[: NAME_KEY_LIMIT - len(digest) - 1] + "~" + digest
    return key


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
            f"'{_echo(cleaned)}' is not a valid slug: use lowercase letters a-z, digits and single "
            "dashes between them (for example 'early-adopter').",
        )
    return cleaned


def slug_from_name(value: str) -> str:
    """Derive a slug from a name: transliterated to ASCII (Cyrillic, Greek, CJK, ...), emoji
    dropped, lowercase, words joined by single dashes; "badge" when nothing is left."""
    without_emoji = emoji.replace_emoji(value, " ")
    ascii_name = anyascii(_visible(without_emoji, keep_emoji=False))
    words = re.findall(r"[a-z0-9]+", ascii_name.lower())
    derived = "-".join(words)[:SLUG_MAX].strip("-")
    return derived or "badge"


def with_suffix(base: str, n: int) -> str:
    """``base`` with ``-n`` appended, shortened so the result stays within the slug limit."""
    suffix = f"-{n}"
    return base[: SLUG_MAX - len(suffix)].rstrip("-") + suffix


def _free_text(value: str) -> str:
    """Text as written, minus control characters (line breaks and tabs stay) and lone
    surrogates, which no database or Discord message can carry."""
    return "".join(ch for ch in value if not _is_control(ch)).strip()


def description(value: str | None) -> str | None:
    """Trimmed description of at most 1000 characters; empty means none."""
    if value is None or not value.strip():
        return None
    cleaned = _free_text(value)
    if not cleaned:
        return None
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
    cleaned = _free_text(value)
    if not cleaned:
        return None
    if len(cleaned) > REASON_MAX:
        raise InvalidInput(
            "reason", f"The reason is {len(cleaned)} characters long; the limit is {REASON_MAX}."
        )
    return cleaned


def _unsafe_in_url(ch: str) -> bool:
    """Whitespace, a control, format or private-use character, or an invisible one."""
    return (
        ch.isspace()
        or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zs", "Zl", "Zp")
        or bool(_INVISIBLE_RE.match(ch))
    )


def icon(value: str | None) -> str | None:
    """A Unicode emoji, a custom Discord emoji (``<:name:id>``, ``<a:name:id>``) or an https URL."""
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if cleaned.startswith(("http://", "https://")):
        if any(_unsafe_in_url(ch) for ch in cleaned):
            raise InvalidInput(
                "icon",
                "An icon URL cannot contain spaces, line breaks, control or invisible characters.",
            )
        try:
            parts = urlsplit(cleaned)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts = None
        if parts is None or parts.scheme != "https" or not parts.hostname:
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
        f"'{_echo(cleaned)}' is not an icon: use one emoji (🏆), a custom server emoji "
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
            f"'{_echo(cleaned)}' is not a colour: use a hex code like #FF5733 (or #F53).",
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
