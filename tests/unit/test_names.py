"""Badge names, their comparison keys, slugs and icon URLs against hostile input."""

from __future__ import annotations

import re

import icu
import pytest

from badges import validation
from badges.errors import InvalidInput

NO_VISIBLE = "The badge name has no visible characters."
CONTROL = "The badge name contains a control character; remove it and try again."
URL_HIDDEN = "An icon URL cannot contain spaces, line breaks, control or invisible characters."


def refusal(call: object, *args: object) -> InvalidInput:
    assert callable(call)
    with pytest.raises(InvalidInput) as err:
        call(*args)
    return err.value


def assert_plain(message: str) -> None:
    """No slash command, no Discord markdown, no line break in a refusal."""
    assert not re.search(r"(^|\s)/[a-z]", message)
    assert not any(mark in message for mark in ("**", "__", "`", "||", "\n"))


# --- names: what nobody can see is not part of a name ------------------------------------


@pytest.mark.parametrize(
    "invisible",
    [
        "\u200b",  # zero width space
        "\u200d",  # zero width joiner
        "\u200c",  # zero width non-joiner
        "\u2060",  # word joiner
        "\ufeff",  # byte order mark
        "\u3164",  # Hangul filler
        "\uffa0",  # halfwidth Hangul filler
        "\u115f\u1160",  # Hangul choseong and jungseong fillers
        "\u2800",  # Braille pattern blank
        "\u00ad",  # soft hyphen
        "\u202e",  # right-to-left override
        "\u180e",  # Mongolian vowel separator
        "\ufe0f",  # variation selector 16 with no emoji
        "\U000e0041",  # tag latin capital letter A
        "\u200b \u200d\t\u2060\n\ufeff\u3164 \u2800",
        "  \u200b\u200b\u200b  ",
    ],
)
def test_name_of_invisible_characters_only_is_refused(invisible: str) -> None:
    err = refusal(validation.name, invisible)
    assert err.field == "name"
    assert err.message == NO_VISIBLE
    assert_plain(err.message)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Hel\u200bper", "Helper"),
        ("Helper\u200d", "Helper"),
        ("\u2800Helper\u3164", "Helper"),
        ("\u202eHelper\u202c", "Helper"),
        ("Early\u200b \u2060Adopter", "Early Adopter"),
        ("Early\u00a0\u00a0Adopter", "Early Adopter"),
        ("  Early\tAdopter\n", "Early Adopter"),
        ("Star\ufe0f", "Star"),
        ("⭐\u200d Star", "⭐ Star"),
    ],
)
def test_invisible_characters_are_removed_from_the_stored_name(given: str, stored: str) -> None:
    assert validation.name(given) == stored


@pytest.mark.parametrize(
    "name",
    [
        "👨\u200d👩\u200d👧 Family",
        "⭐\ufe0f Star",
        "⭐\ufe0e Star",
        "❤\ufe0f\u200d🔥 Hot",
        "👩🏽\u200d💻 Coder",
        "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f England",
        "1\ufe0f\u20e3 First",
        "Team 🧑\u200d🤝\u200d🧑",
    ],
)
def test_emoji_sequences_in_a_name_stay_intact(name: str) -> None:
    assert validation.name(name) == name


@pytest.mark.parametrize("given", ["Help\x00er", "\x1b[31mRed", "Bell\x07", "a\x7fb"])
def test_name_with_a_control_character_is_refused(given: str) -> None:
    err = refusal(validation.name, given)
    assert err.field == "name"
    assert err.message == CONTROL


def test_limit_counts_visible_characters() -> None:
    assert validation.name("x" * 100 + "\u200b" * 50) == "x" * 100
    err = refusal(validation.name, "x" * 101 + "\u200b")
    assert err.message == "The badge name is 101 characters long; the limit is 100."


# --- name keys: look-alikes collide ------------------------------------------------------


@pytest.mark.parametrize(
    "lookalike",
    [
        "Helper",
        "Hel\u200bper",
        "Helper\u200d",
        "\u2800Helper",
        "HELPER",
        "helper",
        "Неlреr",  # Cyrillic Н, е, р
        "НЕLРЕR",  # Cyrillic capitals
        "Ｈｅｌｐｅｒ",  # fullwidth
        "HeIper",  # capital i for the l
        "He1per",
        "\u202eHelper",
    ],
)
def test_lookalikes_of_helper_share_its_key(lookalike: str) -> None:
    assert validation.name_key(lookalike) == validation.name_key("Helper")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Привет", "ПРИВЕТ"),
        ("Straße", "STRASSE"),
        ("modern", "rnodern"),
        ("C00L", "cool"),
        ("⭐\ufe0f Star", "⭐ Star"),
        ("Early  Adopter", "Early Adopter"),
    ],
)
def test_other_lookalikes_collide(one: str, other: str) -> None:
    assert validation.name_key(one) == validation.name_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Helper", "Helpers"),
        ("Helper", "Top Helper"),
        ("Badge 1", "Badge 2"),
        ("Привет", "Пока"),
        # a visible accent makes another name: "Café" and "Cafe" are two badges
        ("Café", "Cafe"),
        ("⭐ Star", "🌟 Star"),
    ],
)
def test_different_names_do_not_collide(one: str, other: str) -> None:
    assert validation.name_key(one) != validation.name_key(other)


def test_name_key_is_deterministic_and_fits_the_column() -> None:
    expanding = "\ufdfa" * 100  # one character that NFKC turns into 18
    key = validation.name_key(expanding)
    assert key == validation.name_key(expanding)
    assert len(key) <= validation.NAME_KEY_LIMIT
    # room for the "#<id>" a migration may add after it
    assert validation.NAME_KEY_LIMIT + 1 + 36 <= validation.NAME_KEY_MAX
    assert validation.name_key("\ufdfa" * 99 + "x") != key


def test_every_valid_name_has_a_key_within_the_limit() -> None:
    worst = "".join(chr(cp) for cp in (0x1F82, 0x3392, 0x33AF, 0xFDFA, 0x2474)) * 20
    assert len(validation.name_key(validation.name(worst))) <= validation.NAME_KEY_LIMIT


def test_invisible_set_is_unicode_default_ignorable() -> None:
    ignorable = icu.UnicodeSet("[:Default_Ignorable_Code_Point:]")
    for cp in range(0x110000):
        ch = chr(cp)
        expected = ignorable.contains(ch) or ch in "\u2800\U0001d159"
        assert bool(validation._INVISIBLE_RE.match(ch)) == expected, hex(cp)


# --- slugs: transliterated, not stripped -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Неlреr", "nelrer"),
        ("Привет мир", "privet-mir"),
        ("Παύλος", "paylos"),
        ("東京 Tower", "dongjing-tower"),
        ("Straße", "strasse"),
        ("Hel\u200bper", "helper"),
        ("👨\u200d👩\u200d👧 Family", "family"),
        ("⭐\ufe0f Star", "star"),
        ("🏆", "badge"),
        ("\u2800", "badge"),
        ("Early Adopter", "early-adopter"),
    ],
)
def test_slug_from_name_transliterates(name: str, slug: str) -> None:
    assert validation.slug_from_name(name) == slug


# --- icon URLs: nothing hidden inside ----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/a.png\njavascript:alert(1)",
        "https://example.org/a\t.png",
        "https://example.org/a b.png",
        "https://example.org/a.png\r\nX-Header: 1",
        "https://example.org/\x00.png",
        "https://exa\u200bmple.org/a.png",
        "https://example.org/\ufeffa.png",
        "https://example.org/\u00a0a.png",
        "https://example.org/\u2028a.png",
        "https://example.org/\u202egnp.exe",
        "https://example.org/\u3164.png",
    ],
)
def test_icon_url_with_hidden_characters_is_refused(url: str) -> None:
    err = refusal(validation.icon, url)
    assert err.field == "icon"
    assert err.message == URL_HIDDEN


def test_malformed_icon_url_is_refused_not_crashed() -> None:
    err = refusal(validation.icon, "https://[::1/a.png")
    assert err.field == "icon"
    assert err.message == "An icon URL must be a valid https:// address."


def test_surrounding_whitespace_of_an_icon_url_is_trimmed() -> None:
    assert validation.icon("  https://example.org/a.png\n") == "https://example.org/a.png"


# --- refusals never echo much of the input -----------------------------------------------


@pytest.mark.parametrize(
    ("call", "field", "given"),
    [
        (validation.icon, "icon", "trophy" * 50),
        (validation.color, "color", "red" * 50),
        (validation.slug, "slug", "Not A Slug " * 5),
    ],
)
def test_echo_is_cut_at_forty_characters(call: object, field: str, given: str) -> None:
    err = refusal(call, given)
    assert err.field == field
    quoted = re.match(r"'([^']*)'", err.message)
    assert quoted is not None
    assert len(quoted.group(1)) == 40
    assert quoted.group(1).endswith("…")
    assert given.strip().startswith(quoted.group(1)[:-1].strip())
    assert_plain(err.message)


def test_echo_shows_no_hidden_characters() -> None:
    err = refusal(validation.icon, "bad\n\u200bicon\u202e")
    assert err.message.startswith("'bad icon' is not an icon:")
    assert_plain(err.message)


def test_short_echo_is_whole() -> None:
    assert refusal(validation.color, "blue").message.startswith("'blue' is not a colour")
