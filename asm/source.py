"""Source lines and where they came from (file, line, macro or include chain).

The preprocessor turns files into a stream of :class:`Line`; every later stage
blames a line for its errors, and the line knows how to point back at the text
the programmer wrote: through macro argument substitution (column maps) and
up the chain of macro expansions and includes (notes).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import NamedTuple


class Origin(NamedTuple):
    """A physical line of a source file, and how it came to be assembled."""

    file: str
    line: int  # 1-based
    text: str  # as written in the file
    parent: Line | None = None  # the invocation or `.include` line that brought it in
    parent_col: int = 0  # column of the macro name / directive in the parent's text
    how: str = ""  # "macro 'name'" or "include"


# A column map: substitutions made in a line, as (start in the new text, length in the
# new text, start in the old text, length in the old text), in order.
ColMap = tuple[tuple[int, int, int, int], ...]


class Line(NamedTuple):
    """One logical line to assemble: its text after macro substitution."""

    text: str
    origin: Origin
    maps: tuple[ColMap, ...] = ()  # applied in order to get back to origin.text

    def raw_span(self, col: int, end: int) -> tuple[int, int]:
        """Map a column span of `text` to the span in the original file line."""
        for segs in self.maps:
            col, end = _map(col, segs, False), _map(end, segs, True)
        end = max(end, col + 1)
        return col, end


def _map(col: int, segs: ColMap, is_end: bool) -> int:
    delta = 0
    for new_start, new_len, old_start, old_len in segs:
        if col < new_start:
            break
        if col < new_start + new_len or (is_end and col == new_start + new_len):
            # inside a substituted argument: blame the `\name` that produced it
            return old_start + (old_len if is_end else 0)
        delta = (old_start + old_len) - (new_start + new_len)
    return col + delta


class FileLines(Sequence):
    """The lines of a file, made into Line objects only when asked for: a file of a
    million lines costs its text and an offset per line, not a million Line, Origin
    and string objects at once."""

    __slots__ = ("text", "starts", "file", "parent", "parent_col", "how")

    def __init__(self, text: str, file: str, parent: Line | None, parent_col: int,
                 how: str) -> None:
        self.text = text
        starts = array("Q", [0])
        find = text.find
        i = find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        if not text.endswith("\n"):
            starts.append(len(text) + 1)  # the end of the last line, as if a newline followed
        self.starts = starts
        self.file = file
        self.parent = parent
        self.parent_col = parent_col
        self.how = how

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, i):  # noqa: ANN001 - an index (slices are not needed)
        if i < 0:
            i += len(self.starts) - 1
        starts = self.starts
        raw = self.text[starts[i]:starts[i + 1] - 1]
        if raw.endswith("\r"):
            raw = raw[:-1]
        new = tuple.__new__  # skips the NamedTuple constructor frames
        return new(Line, (raw, new(Origin, (self.file, i + 1, raw, self.parent,
                                            self.parent_col, self.how)), ()))


def split_lines(text: str, file: str, parent: Line | None = None, parent_col: int = 0,
                how: str = "") -> FileLines:
    """The lines of a file (no substitution, identity column map)."""
    return FileLines(text, file, parent, parent_col, how)
