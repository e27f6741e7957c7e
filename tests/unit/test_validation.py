"""Field rules of the domain, without storage."""

from __future__ import annotations

import pytest

from badges import validation
from badges.errors import Forbidden, InvalidInput
from badges.permissions import Actor, Level, require


@pytest.mark.parametrize(
    ("given", "expected"),
    [("#ff5733", "#FF5733"), ("FF5733", "#FF5733"), ("#f53", "#FF5533"), (" #abc ", "#AABBCC")],
)
def test_color_is_normalised(given: str, expected: str) -> None:
    assert validation.color(given) == expected


@pytest.mark.parametrize("bad", ["#GG0000", "red", "#12345", "#1234567", "rgb(1,2,3)"])
def test_bad_color_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validation.color(bad)
    assert err.value.field == "color"
    assert "hex" in err.value.message


def test_name_is_trimmed_and_inner_space_collapsed() -> None:
    assert validation.name("  Early   Adopter ") == "Early Adopter"


@pytest.mark.parametrize("bad", ["", "   ", "x" * 101])
def test_bad_name_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validation.name(bad)
    assert err.value.field == "name"


def test_name_of_exactly_100_characters_is_accepted() -> None:
    assert validation.name("x" * 100) == "x" * 100


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Early Adopter", "early-adopter"),
        ("Café  Crème!!", "cafe-creme"),
        ("--Top__Helper--", "top-helper"),
        ("🏆", "badge"),
        ("a" * 80, "a" * 64),
    ],
)
def test_slug_from_name(name: str, slug: str) -> None:
    assert validation.slug_from_name(name) == slug


@pytest.mark.parametrize(
    "bad", ["Early", "early--adopter", "-early", "early_adopter", "é", "a" * 65]
)
def test_malformed_slug_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validation.slug(bad)
    assert err.value.field == "slug"


def test_suffix_keeps_slug_within_limit() -> None:
    assert validation.with_suffix("a" * 64, 12) == "a" * 61 + "-12"


@pytest.mark.parametrize(
    "icon",
    [
        "🏆",
        "👩‍💻",
        "🇫🇷",
        "<:party:123456789012345678>",
        "<a:dance:123456789012345678>",
        "https://cdn.example.com/i.png",
    ],
)
def test_icon_forms_accepted(icon: str) -> None:
    assert validation.icon(icon) == icon


@pytest.mark.parametrize(
    "bad", ["trophy", "http://insecure.example/i.png", "🏆🏆", "<:x:1>", "https://" + "a" * 510]
)
def test_bad_icon_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validation.icon(bad)
    assert err.value.field == "icon"


def test_description_and_reason_limits() -> None:
    assert validation.description("x" * 1000) == "x" * 1000
    assert validation.description("   ") is None
    with pytest.raises(InvalidInput, match="1001 characters"):
        validation.description("x" * 1001)
    with pytest.raises(InvalidInput, match="limit is 500"):
        validation.reason("x" * 501)


def test_levels_are_ordered() -> None:
    assert Level.MEMBER < Level.MODERATOR < Level.ADMIN < Level.SUPER_ADMIN


def test_require_refuses_lower_level_with_actionable_message() -> None:
    member = Actor(1, "m", Level.MEMBER)
    with pytest.raises(Forbidden, match="You need the Moderator level to award badges"):
        require(member, Level.MODERATOR, "award badges")
    require(Actor(2, "a", Level.ADMIN), Level.MODERATOR, "award badges")
