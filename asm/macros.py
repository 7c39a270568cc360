"""The preprocessor: `.include`, `.macro`/`.endm`, `.rept`/`.endr`.

It turns a file into the stream of :class:`Line` that the assembler's first
pass consumes, lazily: a `.rept` count is an expression that may use `.equ`
names and labels defined above it, so the preprocessor asks the assembler
(through `evaluate`) for its value at the point where it is reached, as GNU
as does.

Macros follow GNU as: ``.macro name a, b=default`` ... ``\\a`` ... ``.endm``;
``\\@`` is the number of macro expansions so far (for unique labels) and
``\\()`` separates a parameter from following text.  Arguments are separated
by commas (commas inside parentheses or quotes do not split), and may be
given by name (``name b=1, a=2``).

Every produced line remembers where it came from, so an error inside a macro
body says where the macro was expanded; depth and size are capped so that a
recursive macro or include, or a `.rept` bomb, is an error and not a hang.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .diagnostics import Diagnostics
from .source import Line, Origin, split_lines

MAX_DEPTH = 64  # nested macro expansions and .rept bodies
MAX_INCLUDE_DEPTH = 32
MAX_LINES = 2_000_000  # lines after expansion

_HEAD = re.compile(r"[ \t]*((?:(?:[A-Za-z_.$][\w.$]*|\d+)[ \t]*:[ \t]*)*)([A-Za-z_.$][\w.$]*)?")
_NAME = re.compile(r"[A-Za-z_$][\w.$]*\Z")
_PARAM = re.compile(r"\\(\w+|@|\(\))")
_PRE = {".macro", ".endm", ".rept", ".endr", ".include"}


class TooLarge(Exception):
    """The expansion passed MAX_LINES; reported, then the run stops."""


@dataclass
class Macro:
    name: str
    params: tuple[str, ...]
    defaults: dict[str, str]
    body: list[Line]
    line: Line  # the `.macro` line


def split_args(text: str) -> list[tuple[str, int]]:
    """Comma-separated arguments with their columns; commas in () or quotes don't split."""
    out: list[tuple[str, int]] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth <= 0:
            out.append((text[start:i], start))
            start = i + 1
        elif ch == "#":
            text = text[:i]
            break
    out.append((text[start:], start))
    args = []
    for a, col in out:
        stripped = a.strip()
        args.append((stripped, col + (len(a) - len(a.lstrip()))))
    if len(args) == 1 and not args[0][0]:
        return []
    return args


def substitute(text: str, values: dict[str, str]) -> tuple[str, tuple] | str:
    """`text` with `\\name` replaced; the column map; or the unknown name (a str)."""
    parts, segs = [], []
    pos = new = 0
    for m in _PARAM.finditer(text):
        key = m.group(1)
        if key == "()":
            rep = ""
        elif key in values:
            rep = values[key]
        else:
            return key
        parts.append(text[pos:m.start()])
        new += m.start() - pos
        segs.append((new, len(rep), m.start(), m.end() - m.start()))
        parts.append(rep)
        new += len(rep)
        pos = m.end()
    parts.append(text[pos:])
    return "".join(parts), tuple(segs)


class Preprocessor:
    """Expands one source file into assembler lines, reporting to `diags`."""

    def __init__(self, diags: Diagnostics, include_dirs: tuple[str, ...] = (),
                 evaluate: Callable[[Line], int | None] | None = None) -> None:
        self.diags = diags
        self.include_dirs = tuple(include_dirs)
        self.evaluate = evaluate or (lambda line: None)
        self.macros: dict[str, Macro] = {}
        self.expansions = 0  # `\@`
        self.emitted = 0
        self.includes: list[tuple[str, str]] = []  # (path, sha256) of every file included
        self._include_stack: list[str] = []
        self._heads: dict[str, tuple[str | None, int, int]] = {}
        self._runaway: set[str] = set()  # macros stopped at the depth limit

    # ------------------------------------------------------------------ entry
    def run(self, text: str, filename: str) -> Iterator[Line]:
        """The lines of `text` (a file called `filename`) after expansion."""
        path = os.path.abspath(filename) if not filename.startswith("<") else filename
        self._include_stack.append(path)
        yield from self._expand(split_lines(text, filename), 0)
        self._include_stack.pop()

    # ------------------------------------------------------------------ helpers
    def head(self, text: str) -> tuple[str | None, int, int]:
        """The first word after any labels, with its span (cached per text)."""
        hit = self._heads.get(text)
        if hit is None:
            m = _HEAD.match(text)
            hit = (m.group(2), m.start(2), m.end(2)) if m.group(2) else (None, 0, 0)
            if len(self._heads) > 200_000:
                self._heads.clear()
            self._heads[text] = hit
        return hit

    def _plain(self, lines: list[Line]) -> bool:
        """No line needs the preprocessor (a `.rept` body can then be repeated as is)."""
        for line in lines:
            h = self.head(line.text)[0]
            if h in _PRE or h in self.macros:
                return False
        return True

    def _count(self, n: int, line: Line) -> None:
        self.emitted += n
        if self.emitted > MAX_LINES:
            self.diags.error(f"program too large: more than {MAX_LINES:,} lines after "
                             "expanding macros and .rept", line, 0, len(line.text))
            raise TooLarge

    def _collect(self, lines: list[Line], i: int, opener: str, closer: str) \
            -> tuple[list[Line], int] | None:
        """Body lines after lines[i] up to the matching closer; None if it is missing."""
        depth = 1
        body = []
        j = i + 1
        while j < len(lines):
            h = self.head(lines[j].text)[0]
            if h == opener:
                depth += 1
            elif h == closer:
                depth -= 1
                if depth == 0:
                    return body, j
            body.append(lines[j])
            j += 1
        return None

    # ------------------------------------------------------------------ expansion
    def _expand(self, lines: list[Line], depth: int) -> Iterator[Line]:
        i = 0
        n = len(lines)
        heads, head, macros = self._heads, self.head, self.macros
        while i < n:
            line = lines[i]
            text = line.text
            if not macros and "." not in text:  # cannot be a directive nor a macro call
                h = hs = he = None
            else:
                hit = heads.get(text)
                h, hs, he = hit if hit is not None else head(text)
            if h not in _PRE and h not in macros:
                self.emitted += 1
                if self.emitted > MAX_LINES:
                    self._count(0, line)
                yield line
                i += 1
                continue
            if h in (".rept", ".include") and line.text[:hs].strip():
                yield Line(line.text[:hs], line.origin, line.maps)  # its labels
            if h == ".macro":
                i = self._define(lines, i)
            elif h == ".rept":
                got = self._collect(lines, i, ".rept", ".endr")
                if got is None:
                    self.diags.error("'.rept' without a matching '.endr'", line, hs, he)
                    return
                body, i = got
                i += 1
                yield from self._rept(line, body, depth)
            elif h == ".include":
                yield from self._include(line, hs, he, depth)
                i += 1
            elif h in (".endm", ".endr"):
                opener = ".macro" if h == ".endm" else ".rept"
                self.diags.error(f"'{h}' without a matching '{opener}'", line, hs, he)
                i += 1
            else:
                if line.text[:hs].strip():  # labels before the macro name
                    yield Line(line.text[:hs], line.origin, line.maps)
                yield from self._invoke(self.macros[h], line, hs, he, depth)
                i += 1

    def _define(self, lines: list[Line], i: int) -> int:
        line = lines[i]
        _, hs, he = self.head(line.text)
        got = self._collect(lines, i, ".macro", ".endm")
        rest = line.text[he:].split("#", 1)[0]
        words = [(m.group(), m.start() + he) for m in re.finditer(r"[^\s,]+", rest)]
        if got is None:
            self.diags.error("'.macro' without a matching '.endm'", line, hs, he)
            return len(lines)
        body, end = got
        if not words:
            self.diags.error("'.macro' needs a name", line, hs, he)
            return end + 1
        name, ncol = words[0]
        if not _NAME.match(name):
            self.diags.error(f"bad macro name '{name}'", line, ncol, ncol + len(name))
            return end + 1
        if name in self.macros:
            first = self.macros[name].line
            self.diags.error(f"macro '{name}' is already defined", line, ncol, ncol + len(name),
                             related=[(first, "first defined here")])
            return end + 1
        params, defaults = [], {}
        for word, col in words[1:]:
            p, eq, default = word.partition("=")
            if not re.fullmatch(r"[A-Za-z_]\w*", p) or p in params:
                self.diags.error(f"bad macro parameter '{word}'", line, col, col + len(word))
                return end + 1
            params.append(p)
            if eq:
                defaults[p] = default
        known = set(params)
        for b in body:
            for m in _PARAM.finditer(b.text):
                key = m.group(1)
                if key not in known and key not in ("@", "()"):
                    self.diags.error(
                        f"macro '{name}' has no parameter '{key}'", b, m.start(), m.end(),
                        (f"its parameters: {', '.join(params) or '(none)'}",))
                    return end + 1
        self.macros[name] = Macro(name, tuple(params), defaults, body, line)
        return end + 1

    def _invoke(self, macro: Macro, line: Line, hs: int, he: int, depth: int) -> Iterator[Line]:
        if macro.name in self._runaway:
            return  # already reported: a macro that expands itself in two places
        if depth >= MAX_DEPTH:   # would otherwise report 2**64 times
            self._runaway.add(macro.name)
            self.diags.error(f"macro expansion nested more than {MAX_DEPTH} deep "
                             f"(is '{macro.name}' recursive?)", line, hs, he)
            return
        args = split_args(line.text[he:])
        values: dict[str, str] = {}
        positional = 0
        for text, col in args:
            col += he
            name, eq, val = text.partition("=")
            if eq and name.strip() in macro.params:
                values[name.strip()] = val.strip()
                continue
            if positional >= len(macro.params):
                self.diags.error(
                    f"macro '{macro.name}' takes {len(macro.params)} argument"
                    f"{'s' if len(macro.params) != 1 else ''}, got {len(args)}",
                    line, col, col + max(len(text), 1),
                    (f"usage: {macro.name} {', '.join(macro.params)}".rstrip(),))
                return
            values[macro.params[positional]] = text
            positional += 1
        for p in macro.params:
            if p not in values:
                if p in macro.defaults:
                    values[p] = macro.defaults[p]
                else:
                    self.diags.error(f"missing argument '{p}' for macro '{macro.name}'",
                                     line, hs, he,
                                     (f"usage: {macro.name} {', '.join(macro.params)}",))
                    return
        values["@"] = str(self.expansions)
        self.expansions += 1
        how = f"macro '{macro.name}'"
        out = []
        for b in macro.body:
            sub = substitute(b.text, values)
            if isinstance(sub, str):  # checked at definition; cannot happen
                continue
            text, segs = sub
            origin = Origin(b.origin.file, b.origin.line, b.origin.text, line, hs, how)
            out.append(Line(text, origin, ((segs,) if segs else ()) + b.maps))
        yield from self._expand(out, depth + 1)

    def _rept(self, line: Line, body: list[Line], depth: int) -> Iterator[Line]:
        _, hs, he = self.head(line.text)
        count = self.evaluate(line)
        if count is None:
            return
        if count < 0:
            self.diags.error(f".rept count {count} is negative", line, he, len(line.text))
            return
        if depth >= MAX_DEPTH:
            self.diags.error(f".rept nested more than {MAX_DEPTH} deep", line, hs, he)
            return
        if count * len(body) + self.emitted > MAX_LINES:
            self._count(count * len(body), line)
        if self._plain(body):
            for _ in range(count):
                self._count(len(body), line)
                yield from body
        else:
            for _ in range(count):
                yield from self._expand(body, depth + 1)

    def _include(self, line: Line, hs: int, he: int, depth: int) -> Iterator[Line]:
        rest = line.text[he:]
        m = re.match(r'\s*"([^"]*)"\s*(#.*)?$', rest)
        if not m:
            self.diags.error('.include takes a file name in double quotes', line, he,
                             max(len(line.text), he + 1), ('expected: .include "file.s"',))
            return
        name = m.group(1)
        col = he + m.start(1) - 1
        span = (col, col + len(name) + 2)
        if depth >= MAX_INCLUDE_DEPTH or len(self._include_stack) > MAX_INCLUDE_DEPTH:
            self.diags.error(f"includes nested more than {MAX_INCLUDE_DEPTH} deep", line, *span)
            return
        found = self._find(name, line.origin.file)
        if found is None:
            where = [self._dir_of(line.origin.file), *self.include_dirs]
            self.diags.error(f"cannot find include file '{name}'", line, *span,
                             (f"searched: {', '.join(where)}",))
            return
        path, shown = found
        if path in self._include_stack:
            self.diags.error(f"'{name}' includes itself (recursive .include)", line, *span)
            return
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except OSError as exc:
            self.diags.error(f"cannot read '{name}': {exc.strerror}", line, *span)
            return
        self.includes.append((path, hashlib.sha256(blob).hexdigest()))
        text = blob.decode("utf-8", errors="replace")
        self._include_stack.append(path)
        try:
            yield from self._expand(split_lines(text, shown, line, hs, "include"), depth + 1)
        finally:
            self._include_stack.pop()

    @staticmethod
    def _dir_of(file: str) -> str:
        return "." if file.startswith("<") else (os.path.dirname(file) or ".")

    def _find(self, name: str, including: str) -> tuple[str, str] | None:
        """(absolute path, path to show) of an include: beside the includer, then -I dirs."""
        for d in (self._dir_of(including), *self.include_dirs):
            shown = os.path.normpath(os.path.join(d, name))
            if os.path.isfile(shown):
                return os.path.abspath(shown), shown
        return None
