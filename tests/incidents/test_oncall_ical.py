"""RFC 5545 details of :mod:`buttress.incidents.ical`: text escaping and line folding."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from buttress.incidents.ical import MAX_OCTETS, escape_text, fold


def test_text_is_escaped() -> None:
    """Backslash, semicolon, comma and newlines are escaped as RFC 5545 3.3.11 says."""
    assert escape_text("a\\b;c,d\ne\r\nf") == "a\\\\b\\;c\\,d\\ne\\nf"


@given(st.text(min_size=0, max_size=400).filter(lambda t: "\r" not in t and "\n" not in t))
def test_folded_lines_fit_and_unfold_to_the_original(line: str) -> None:
    """Every folded line is at most 75 octets of UTF-8, no character is split, and removing
    each CRLF + space gives the line back."""
    folded = fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode("utf-8")) <= MAX_OCTETS for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert folded.replace("\r\n ", "") == line


def test_multibyte_characters_are_never_split() -> None:
    """A line of 3-octet characters folds at 25 characters (75 octets), then 24 after the
    space, then the 11 left."""
    parts = fold("\u20ac" * 60).split("\r\n")
    assert [len(p.encode("utf-8")) for p in parts] == [75, 73, 34]
