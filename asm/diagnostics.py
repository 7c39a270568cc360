"""Diagnostics: `file:line:col: error: message`, the line, a caret, and help.

Every stage appends to one :class:`Diagnostics` list and keeps going, so a run
reports every error in the file at once; :class:`AsmError` carries the list
out of `assemble`.  Rendering follows GCC/customasm: the source line as written
(macro arguments mapped back to the `\\arg` that produced them), a caret
under the offending token, the accepted forms, a "did you mean", then where a
macro was expanded from or a file included from.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from .source import Line

MAX_ERRORS = 1000  # then stop: a binary file fed as source would print forever


@dataclass(frozen=True)
class Diagnostic:
    """One message about one span of one line (`line` None: about a whole file)."""

    message: str
    line: Line | None
    col: int = 0  # 0-based, in line.text
    end: int = 0
    help: tuple[str, ...] = ()  # "expected one of: ...", "did you mean ...?"
    severity: str = "error"
    related: tuple[tuple[Line, str], ...] = ()  # e.g. (first definition, "first defined here")
    file: str = ""  # for file-level messages (line is None)

    @property
    def where(self) -> tuple[str, int, int]:
        """(file, line, 1-based column) in the file the programmer wrote."""
        if self.line is None:
            return self.file, 0, 0
        col, _ = self.line.raw_span(self.col, self.end)
        return self.line.origin.file, self.line.origin.line, col + 1

    def render(self) -> str:
        return "\n".join(_render(self))

    def __str__(self) -> str:
        return self.render()


def _printable(text: str) -> str:
    """Control characters shown as one replacement character each (columns stay put)."""
    return "".join(c if c >= " " or c == "\t" else "\ufffd" for c in text)


def _excerpt(line: Line, col: int, end: int) -> list[str]:
    raw = line.origin.text
    start = 0
    if len(raw) > 150:  # a minified or binary line: show a window around the column
        start = max(0, min(col - 60, len(raw) - 150))
        raw = raw[start:start + 150]
        col, end = col - start, min(end - start, 150)
    end = max(min(end, max(len(raw), col + 1)), col + 1)
    gutter = f"{line.origin.line:>5} | "
    pad = "".join("\t" if c == "\t" else " " for c in raw[:col])
    prefix = "…" if start else ""
    return [
        gutter + prefix + _printable(raw),
        " " * (len(gutter) - 2) + "| " + (" " if start else "") + pad + "^" + "~" * (end - col - 1),
    ]


def _notes(line: Line) -> list[str]:
    """Where a line was expanded from / included from, innermost first; a run of
    identical notes (a recursive macro) is shown once with its count."""
    out: list[str] = []
    origin = line.origin
    while origin.parent is not None:
        parent = origin.parent
        p = parent.origin
        if origin.how == "include":
            out.append(f"note: included from {p.file}:{p.line}")
        else:
            col, _ = parent.raw_span(origin.parent_col, origin.parent_col + 1)
            out.append(f"note: in expansion of {origin.how} at {p.file}:{p.line}:{col + 1}")
        origin = p
    collapsed: list[str] = []
    for note in out:
        if collapsed and collapsed[-1].split(" (", 1)[0] == note:
            last = collapsed[-1]
            n = int(last.rsplit("(", 1)[1].split(" ")[0]) if last.endswith("times)") else 1
            collapsed[-1] = f"{note} ({n + 1} times)"
        else:
            collapsed.append(note)
    return collapsed


def _render(d: Diagnostic) -> list[str]:
    if d.line is None:
        return [f"{d.file}: {d.severity}: {d.message}", *(f"      = {h}" for h in d.help)]
    file, line, col = d.where
    raw_col, raw_end = d.line.raw_span(d.col, d.end)
    out = [f"{file}:{line}:{col}: {d.severity}: {_printable(d.message)}"]
    out += _excerpt(d.line, raw_col, raw_end)
    out += [f"      = {h}" for h in d.help]
    out += _notes(d.line)
    for rel, msg in d.related:
        o = rel.origin
        out.append(f"{o.file}:{o.line}: note: {msg}")
    return out


class AsmError(Exception):
    """Assembly failed; `diagnostics` lists every problem found, in source order."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__(self.render())

    def render(self) -> str:
        errors = sum(d.severity == "error" for d in self.diagnostics)
        body = "\n".join(d.render() for d in self.diagnostics)
        return f"{body}\n{errors} error{'s' if errors != 1 else ''}"


class TooManyErrors(Exception):
    """Raised inside the assembler to stop after MAX_ERRORS."""


class Diagnostics:
    """The sink every stage reports to: deduplicates (a `.rept` body repeats its
    errors) and stops the run after MAX_ERRORS."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []
        self._order: list[int] = []
        self._seen: set = set()
        self.errors = 0
        self.seq = 0  # the statement being worked on; orders messages from both passes

    def sorted(self) -> list[Diagnostic]:
        """The diagnostics in source order (pass 2 reports after pass 1 otherwise)."""
        keyed = sorted(range(len(self.items)), key=lambda i: (self._order[i], i))
        return [self.items[i] for i in keyed]

    def add(self, d: Diagnostic) -> None:
        key = (d.where, d.message, tuple(_notes(d.line)) if d.line else ())
        if key in self._seen:
            return
        self._seen.add(key)
        self.items.append(d)
        self._order.append(self.seq)
        if d.severity == "error":
            self.errors += 1
            if self.errors >= MAX_ERRORS:
                self._order.append(1 << 62)
                self.items.append(Diagnostic(
                    f"too many errors ({MAX_ERRORS}); stopping", None,
                    file=d.where[0], severity="error"))
                raise TooManyErrors

    def error(self, message: str, line: Line | None, col: int = 0, end: int = 0,
              help: Iterable[str] = (), related: Iterable[tuple[Line, str]] = (),
              file: str = "") -> None:
        self.add(Diagnostic(message, line, col, end, tuple(help), "error", tuple(related), file))

    def warning(self, message: str, line: Line | None, col: int = 0, end: int = 0,
                help: Iterable[str] = (), file: str = "") -> None:
        self.add(Diagnostic(message, line, col, end, tuple(help), "warning", (), file))


def did_you_mean(word: str, candidates: Iterable[str]) -> tuple[str, ...]:
    """A help line naming the closest candidates, or nothing."""
    pool = list(candidates)
    close = difflib.get_close_matches(word, pool, n=3, cutoff=0.6)
    if not close:
        low = word.lower()
        close = [c for c in pool if c.lower() == low][:1]
    if not close:
        return ()
    return ("did you mean " + " or ".join(f"'{c}'" for c in close) + "?",)
