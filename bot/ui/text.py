"""User text shown in Discord is shown as text: never markdown, links, mentions or headings.

Badge names, descriptions, reasons and display names come from users; a name like
``[Free Nitro](https://evil.example)`` must not render as a live link, ``**`` must not bold
the rest of a message, and ``<@id>`` or ``@everyone`` must not look like (or be) a ping.
"""

from __future__ import annotations

import re

from discord.utils import escape_markdown, escape_mentions

_LINE_START = re.compile(r"(?m)^(\s*)(#{1,3} |>|-# |- |\* |\d+\. )")


def inert(text: str) -> str:
    """``text`` escaped so Discord shows exactly these characters."""
    escaped = escape_mentions(escape_markdown(text))
    escaped = escaped.replace("<", "\\<").replace("](", "\\](")
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters; a cut is marked with an ellipsis. An escape is never
    split in two (a trailing lone backslash would escape the ellipsis)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if head.endswith("\\") and not head.endswith("\\\\"):
        head = head[:-1]
    return head + "…"
