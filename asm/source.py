"""Source lines and where they came from (file, line, macro or include chain).

The preprocessor turns files into a stream of :class:`Line`; every later stage
blames a line for its errors, and the line knows how to point back at the text
the programmer wrote: through macro argument substitution (column maps) and
up the chain of macro expansions and includes (notes).
"""

from __future__ import annotations

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


def split_lines(text: str, file: str, parent: Line | None = None, parent_col: int = 0,
                how: str = "") -> list[Line]:
    """The lines of a file as Line objects (no substitution, identity column map)."""
    out = []
    append = out.append
    new = tuple.__new__  # skips the NamedTuple constructor frames: files can be big
    for i, raw in enumerate(text.split("\n"), 1):
        if raw.endswith("\r"):
            raw = raw[:-1]
        append(new(Line, (raw, new(Origin, (file, i, raw, parent, parent_col, how)), ())))
    if len(out) > 1 and out[-1].text == "":
        out.pop()  # the newline that ends the file does not start a line
    return out
