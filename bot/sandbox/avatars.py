"""Discord's default avatars, drawn locally: the page is offline and cannot fetch them."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

DEFAULT_AVATAR_URL = "https://cdn.discordapp.com/embed/avatars/{}.png"
COLOURS = ("#5865F2", "#757E8A", "#3BA55C", "#FAA61A", "#ED4245", "#EB459E")
"""The background of default avatar 0 to 5, as in Discord."""


def _avatar(colour: str, size: int = 128) -> bytes:
    """A person's silhouette in white on a disc of ``colour``, as a PNG."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((0, 0, size - 1, size - 1), fill=colour)
    unit = size // 16
    draw.ellipse((6 * unit, 3 * unit, 10 * unit, 7 * unit), fill="white")  # head
    draw.chord((3 * unit, 8 * unit, 13 * unit, 18 * unit), 180, 360, fill="white")  # shoulders
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def default_avatars() -> dict[str, tuple[str, bytes]]:
    """The page's offline assets: each default avatar URL with its file name and bytes."""
    return {
        DEFAULT_AVATAR_URL.format(index): (f"avatar-{index}.png", _avatar(colour))
        for index, colour in enumerate(COLOURS)
    }
