"""Splitting long replies into Discord-sized messages."""

from __future__ import annotations

from bot.replies import split_lines


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
