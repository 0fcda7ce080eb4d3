"""Cutting a table-data block of a pg_dump custom-format archive between two rows
(:func:`row_cut`), so that a large table can load over several COPYs at once: a cut is only
ever made where a chunk begins, whatever the rows' lengths and bytes."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from buttress.backup.sources.pg_archive import BLOCK_END, row_cut


def _chunk(row: bytes) -> bytes:
    return b"\x00" + len(row).to_bytes(4, "little") + row


def _block(rows: list[bytes]) -> tuple[bytes, set[int]]:
    """Chunks of ``rows`` as pg_dump writes them, the block's end, and where each chunk
    begins."""
    data, starts = b"", set()
    for row in rows:
        starts.add(len(data))
        data += _chunk(row)
    return data + BLOCK_END, starts


# COPY text: no NUL, and a newline only at a row's end
_BODY = st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\x01").replace(b"\n", b"n"))
_ROW = _BODY.map(lambda b: b + b"\n")


def test_a_cut_is_where_the_next_row_begins() -> None:
    rows = [b"1\tone\n", b"2\ttwo\n", b"3\tthree\n", b"4\tfour\n"]
    data, starts = _block(rows)
    assert row_cut(data) == len(_chunk(rows[0]))
    assert row_cut(data, 12) == len(_chunk(rows[0]) + _chunk(rows[1]))
    assert row_cut(data) in starts


def test_headers_that_look_like_a_row_end_are_not_cut() -> None:
    """A row of 10 bytes has the header 00 0A 00 00 00: a newline, then a NUL, inside the
    header. Searching from inside it must not cut there."""
    rows = [b"abcdefghi\n"] * 6
    data, starts = _block(rows)
    for start in range(1, len(data)):
        cut = row_cut(data, start)
        assert cut == -1 or (cut in starts and cut >= start)


def test_no_cut_without_two_whole_rows_to_prove_it() -> None:
    wide = b"x" * 5000 + b"\n"
    data, _ = _block([b"1\n", wide, wide])
    piece = data[:4000]  # the start of a wide row, and no more
    assert row_cut(piece) == -1
    assert row_cut(b"") == -1
    assert row_cut(b"\n\x00") == -1


def test_a_row_followed_by_the_blocks_end_proves_the_cut() -> None:
    data, starts = _block([b"a\n", b"b\n"])
    assert row_cut(data) == max(starts)  # the second row, then BLOCK_END


@settings(max_examples=300, deadline=None)
@given(st.lists(_ROW, min_size=1, max_size=40), st.integers(min_value=0, max_value=20_000))
@example([b"\n"] * 5, 0)  # empty rows: the whole block is headers and newlines
@example([b"x" * 9 + b"\n"] * 5, 1)  # length 10: 00 0A 00 00 00
@example([b"x" * 2569 + b"\n"] * 3, 2)  # length 0x0A0A: 00 0A 0A 00 00
def test_every_cut_is_a_chunk_start(rows: list[bytes], start: int) -> None:
    data, starts = _block(rows)
    start %= len(data)
    cut = row_cut(data, start)
    assert cut == -1 or (cut in starts and cut >= max(start, 1))
    # and a piece of the stream cut anywhere: never a place that is not a chunk's start
    for lo in range(0, len(data), 97):
        piece = data[lo : lo + 701]
        cut = row_cut(piece)
        assert cut == -1 or lo + cut in starts
