"""Splitting long replies into Discord-sized messages."""

from __future__ import annotations

from bot.ui.replies import split_lines


def test_short_lines_stay_in_one_message() -> None:
    assert split_lines(["a", "b", "c"]) == ["a\nb\nc"]


def test_lines_are_never_cut_between_messages() -> None:
    lines = [f"{i:04d}" + "x" * 95 for i in range(50)]  # 100 characters each
    messages = split_lines(lines)
    assert all(len(m) <= 2000 for m in messages)
    assert "\n".join(messages).split("\n") == lines
    assert len(messages) == 3


def test_a_line_longer_than_a_message_is_split() -> None:
    messages = split_lines(["y" * 4500], limit=2000)
    assert [len(m) for m in messages] == [2000, 2000, 500]


def test_member_ids_are_read_from_mentions_and_bare_ids_only() -> None:
    from cogs.awards import parse_member_ids

    text = (
        "<#111111111111111111> <:gg:222222222222222222> <@&333333333333333333> "
        "<@444444444444444444> <@!555555555555555555>, 666666666666666666 "
        "<@444444444444444444> 12345"
    )
    assert parse_member_ids(text) == [444444444444444444, 555555555555555555, 666666666666666666]


def test_progress_bar_and_estimate() -> None:
    from bot.roles.progress import bar, eta

    assert bar(3, 5) == "▰▰▰▰▰▰▰▰▰▰▰▰▱▱▱▱▱▱▱▱ 60% (3/5)"
    assert eta(0, 10.0) == "done"
    assert eta(50, 10.0) == "about 5 s left"
    assert eta(6000, 10.0) == "about 10 min left"
    assert eta(5, 0.0) == "estimating…"
