"""The preprocessor: `.include`, `.macro`, `.rept`, `.irp` and `.if` (see directives.py).

It turns a file into the stream of :class:`Line` that the assembler's first
pass consumes, lazily: a `.rept` count or an `.if` condition is an expression
that may use `.equ`/`.set` names and labels defined above it, so the
preprocessor asks the assembler (through `evaluate` and `defined`) at the
point where it is reached, as GNU as does.

Macros follow GNU as: ``.macro name a, b=default`` ... ``\\a`` ... ``.endm``;
``\\@`` is the number of macro expansions so far (for unique labels) and
``\\()`` separates a parameter from following text.  Arguments are separated
by commas (commas inside parentheses or quotes do not split), and may be
given by name (``name b=1, a=2``).  ``.irp x, a, b`` repeats its body with
``\\x`` replaced by each value.

Every produced line remembers where it came from (a macro call, a `.rept` or
`.irp`, an include), so an error inside a body says where it was expanded and
the listing can show each expansion under the line that made it.  The work
is capped: nesting depth, lines produced (MAX_LINES), and expansions (macro
calls and repetitions, MAX_EXPANSIONS, which also stops bombs that produce
nothing), so a recursive macro or a `.rept` bomb is an error and not a hang.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .diagnostics import Diagnostics
from .directives import PRE
from .source import Line, Origin, split_lines

MAX_DEPTH = 64  # nested macro expansions and .rept/.irp bodies
MAX_INCLUDE_DEPTH = 32
MAX_LINES = 2_000_000  # lines after expansion
MAX_EXPANSIONS = 1_000_000  # .rept/.irp repetitions (of anything, even of nothing)
MAX_CALLS = 250_000  # macro calls (each costs microseconds even when it expands to nothing)
MAX_REPT = 10_000_000  # a single .rept count
MAX_LINE = 1 << 20  # characters in a line (except data lines, see directives.DATA)

_HEAD = re.compile(r"[ \t]*((?:(?:[A-Za-z_.$][\w.$]*|\d+)[ \t]*:[ \t]*)*)([A-Za-z_.$][\w.$]*)?")
_NAME = re.compile(r"[A-Za-z_$][\w.$]*\Z")
_PARAM = re.compile(r"\\(\w+|@|\(\))")
_IF = frozenset({".if", ".ifdef", ".ifndef"})
_REPEAT = frozenset({".rept", ".irp"})


class TooLarge(Exception):
    """The expansion passed a cap; reported, then the run stops."""


@dataclass
class Macro:
    name: str
    params: tuple[str, ...]
    defaults: dict[str, str]
    body: list[Line]
    line: Line  # the `.macro` line
    bad: frozenset[int] = frozenset()  # body lines already reported (skipped when expanded)

    def __post_init__(self) -> None:
        self.how = f"macro '{self.name}'"
        # per body line to expand: (line, whether it names a parameter)
        self.lines = [(b, "\\" in b.text) for k, b in enumerate(self.body) if k not in self.bad]


_PLAIN_ARGS = re.compile(r"[^\"'()#]*\Z")


def split_args(text: str) -> list[tuple[str, int]]:
    """Comma-separated arguments with their columns; commas in () or quotes don't split."""
    if _PLAIN_ARGS.match(text):  # the common case: nothing to skip over
        if not text or text.isspace():
            return []
        args, col = [], 0
        for a in text.split(","):
            stripped = a.strip()
            args.append((stripped, col + len(a) - len(a.lstrip())))
            col += len(a) + 1
        return args
    out: list[tuple[str, int]] = []
    depth, quote, start = 0, "", 0
    escaped = False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
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


def substitute(text: str, values: dict[str, str]) -> tuple[str, tuple]:
    """`text` with `\\name` replaced (unknown names are left for an inner `.irp` or
    macro), and the column map back to `text`."""
    parts, segs = [], []
    pos = new = 0
    for m in _PARAM.finditer(text):
        key = m.group(1)
        if key == "()":
            rep = ""
        elif key in values:
            rep = values[key]
        else:
            continue
        parts.append(text[pos:m.start()])
        new += m.start() - pos
        segs.append((new, len(rep), m.start(), m.end() - m.start()))
        parts.append(rep)
        new += len(rep)
        pos = m.end()
    if not segs:
        return text, ()
    parts.append(text[pos:])
    return "".join(parts), tuple(segs)


class Preprocessor:
    """Expands one source file into assembler lines, reporting to `diags`.

    `evaluate(line)` is the value of the one expression operand of a `.rept`, `.if`
    or `.elseif` line (None: reported); `defined(name)` whether a symbol is defined.
    """

    def __init__(self, diags: Diagnostics, include_dirs: tuple[str, ...] = (),
                 evaluate: Callable[[Line], int | None] | None = None,
                 defined: Callable[[str], bool] | None = None) -> None:
        self.diags = diags
        self.include_dirs = tuple(include_dirs)
        self.evaluate = evaluate or (lambda line: None)
        self.defined = defined or (lambda name: False)
        self.macros: dict[str, Macro] = {}
        self.expansions = 0  # `\@`
        self.emitted = 0
        self.work = 0  # .rept/.irp repetitions, against MAX_EXPANSIONS
        self.calls = 0  # macro calls, against MAX_CALLS
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
            if len(text) > 4096:  # a long line: its head is near the start; don't keep it
                return self._head_of(text[:4096])
            hit = self._head_of(text)
            if len(self._heads) > 4096:
                self._heads.clear()
            self._heads[text] = hit
        return hit

    @staticmethod
    def _head_of(text: str) -> tuple[str | None, int, int]:
        m = _HEAD.match(text)
        return (m.group(2), m.start(2), m.end(2)) if m.group(2) else (None, 0, 0)

    def _plain(self, lines: list[Line]) -> bool:
        """No line needs the preprocessor (a `.rept` body can then be repeated as is)."""
        for line in lines:
            h = self.head(line.text)[0]
            if h in PRE or h in self.macros:
                return False
        return True

    def _count(self, n: int, line: Line) -> None:
        self.emitted += n
        if self.emitted > MAX_LINES:
            self.diags.error(f"program too large: more than {MAX_LINES:,} lines after "
                             "expanding macros, .rept and .irp", line, 0, len(line.text))
            raise TooLarge

    def _charge(self, n: int, line: Line, hs: int, he: int) -> None:
        """Count n repetitions of a `.rept`/`.irp` body against the cap."""
        self.work += n
        if self.work > MAX_EXPANSIONS:
            self.diags.error(
                f"too many repetitions: more than {MAX_EXPANSIONS:,} of .rept and .irp bodies "
                "in all", line, hs, he,
                ("repetitions nested in repetitions count, even of nothing",))
            raise TooLarge

    def _too_many_calls(self, line: Line, hs: int, he: int) -> None:
        self.diags.error(f"too many macro calls: more than {MAX_CALLS:,} in all", line, hs, he,
                         ("macros calling macros count, even when they expand to nothing",))
        raise TooLarge

    def _collect(self, lines: list[Line], i: int, openers: frozenset[str], closer: str) \
            -> tuple[list[Line], int] | None:
        """Body lines after lines[i] up to the matching closer; None if it is missing."""
        depth = 1
        body = []
        j = i + 1
        while j < len(lines):
            h = self.head(lines[j].text)[0]
            if h in openers:
                depth += 1
            elif h == closer:
                depth -= 1
                if depth == 0:
                    return body, j
            body.append(lines[j])
            j += 1
        return None

    def _no_operands(self, line: Line, h: str, he: int) -> None:
        rest = line.text[he:].split("#", 1)[0]
        if rest.strip():
            col = he + len(rest) - len(rest.lstrip())
            self.diags.error(f"'{h}' takes no operands", line, col, he + len(rest.rstrip()))

    # ------------------------------------------------------------------ expansion
    def _expand(self, lines: list[Line], depth: int) -> Iterator[Line]:
        """The lines after expansion.  The chosen branch of an `.if` is taken in the same
        loop (a stack of frames), so deep conditionals cost no recursion."""
        frames: list[tuple[list[Line], int]] = []
        i = 0
        n = len(lines)
        heads, head, macros = self._heads, self.head, self.macros
        while True:
            if i >= n:
                if not frames:
                    return
                lines, i = frames.pop()
                n = len(lines)
                continue
            line = lines[i]
            text = line.text
            if not macros and ":" not in text and text.lstrip()[:1] != ".":
                h = hs = he = None  # no labels, no macros: a directive would come first
            else:
                hit = heads.get(text)
                h, hs, he = hit if hit is not None else head(text)
            if h not in PRE and h not in macros:
                self.emitted += 1
                if self.emitted > MAX_LINES:
                    self._count(0, line)
                yield line
                i += 1
                continue
            if len(text) > MAX_LINE:
                self.diags.error(f"line too long ({len(text):,} characters; at most "
                                 f"{MAX_LINE:,})", line, hs, he)
                i += 1
                continue
            if h in (".rept", ".irp", ".include") or h in _IF:
                if text[:hs].strip():
                    yield Line(text[:hs], line.origin, line.maps)  # its labels
            if h == ".macro":
                i = self._define(lines, i)
            elif h in _REPEAT:
                got = self._collect(lines, i, _REPEAT, ".endr")
                if got is None:  # reported; the rest of this file or body is skipped
                    self.diags.error(f"'{h}' without a matching '.endr'", line, hs, he)
                    i = n
                    continue
                body, i = got
                i += 1
                if h == ".rept":
                    yield from self._rept(line, body, depth)
                else:
                    yield from self._irp(line, body, depth)
            elif h in _IF:
                got = self._conditional(lines, i)
                if got is None:
                    self.diags.error(f"'{h}' without a matching '.endif'", line, hs, he)
                    i = n
                    continue
                body, i = got
                if body:
                    frames.append((lines, i))
                    lines, i, n = body, 0, len(body)
            elif h == ".include":
                yield from self._include(line, hs, he, depth)
                i += 1
            elif h in (".endm", ".endr", ".else", ".elseif", ".endif"):
                opener = {".endm": "'.macro'", ".endr": "'.rept' or '.irp'"}.get(h, "'.if'")
                self.diags.error(f"'{h}' without a matching {opener}", line, hs, he)
                i += 1
            else:
                if text[:hs].strip():  # labels before the macro name
                    yield Line(text[:hs], line.origin, line.maps)
                yield from self._invoke(self.macros[h], line, hs, he, depth)
                i += 1

    def _conditional(self, lines: list[Line], i: int) -> tuple[list[Line], int] | None:
        """The body of the branch taken (conditions evaluated in order, up to the first
        true one) and the index after `.endif`; None if there is no `.endif`."""
        branches: list[tuple[Line, str, int, int, list[Line]]] = []
        h, hs, he = self.head(lines[i].text)
        branches.append((lines[i], h, hs, he, []))
        nest = 0
        seen_else: Line | None = None
        j = i + 1
        n = len(lines)
        while j < n:
            line = lines[j]
            hh, s2, e2 = self.head(line.text)
            if hh in _IF:
                nest += 1
            elif hh == ".endif":
                if nest == 0:
                    break
                nest -= 1
            elif nest == 0 and hh in (".elseif", ".else"):
                if seen_else is not None:
                    self.diags.error(f"'{hh}' after '.else'", line, s2, e2,
                                     related=[(seen_else, "the '.else' is here")])
                    branches.append((line, "dead", s2, e2, []))
                else:
                    if hh == ".else":
                        seen_else = line
                        self._no_operands(line, hh, e2)
                    branches.append((line, hh, s2, e2, []))
                j += 1
                continue
            branches[-1][4].append(line)
            j += 1
        else:
            return None
        end = lines[j]
        self._no_operands(end, ".endif", self.head(end.text)[2])
        for line, kind, _hs, he, body in branches:
            if kind == "dead":
                continue
            if kind == ".else":
                return body, j + 1
            if kind in (".ifdef", ".ifndef"):
                name = self._name_operand(line, kind, he)
                if name is None:
                    return [], j + 1
                if self.defined(name) == (kind == ".ifdef"):
                    return body, j + 1
                continue
            value = self.evaluate(line)  # .if, .elseif
            if value is None:
                return [], j + 1  # reported: no branch is taken
            if value:
                return body, j + 1
        return [], j + 1

    def _name_operand(self, line: Line, h: str, he: int) -> str | None:
        rest = line.text[he:].split("#", 1)[0]
        word = rest.strip()
        col = he + len(rest) - len(rest.lstrip())
        if not _NAME.match(word):
            end = col + len(word) if word else col + 1
            self.diags.error(f"'{h}' takes one symbol name" if word else
                             f"'{h}' needs a symbol name", line, col, end,
                             (f"expected: {h} NAME",))
            return None
        return word

    def _define(self, lines: list[Line], i: int) -> int:
        line = lines[i]
        _, hs, he = self.head(line.text)
        got = self._collect(lines, i, frozenset({".macro"}), ".endm")
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
                continue  # the macro is still defined, with the parameters that are good
            params.append(p)
            if eq:
                defaults[p] = default
        known = set(params) | {"@", "()"} | self._inner_names(body)
        bad = set()
        for k, b in enumerate(body):
            for m in _PARAM.finditer(b.text):
                key = m.group(1)
                if key not in known:
                    self.diags.error(
                        f"macro '{name}' has no parameter '{key}'", b, m.start(), m.end(),
                        (f"its parameters: {', '.join(params) or '(none)'}",))
                    bad.add(k)  # reported once here; skipped when the macro is expanded
                    break
        self.macros[name] = Macro(name, tuple(params), defaults, body, line, frozenset(bad))
        return end + 1

    def _inner_names(self, body: list[Line]) -> set[str]:
        """Parameter names that `.irp` lines and nested `.macro`s in a body bring in."""
        names = set()
        for b in body:
            h, _, he = self.head(b.text)
            if h == ".irp":
                args = split_args(b.text[he:])
                if args:
                    names.add(args[0][0])
            elif h == ".macro":
                words = re.findall(r"[^\s,]+", b.text[he:].split("#", 1)[0])
                names.update(w.partition("=")[0] for w in words[1:])
        return names

    def _invoke(self, macro: Macro, line: Line, hs: int, he: int, depth: int) -> Iterator[Line]:
        if macro.name in self._runaway:
            return  # already reported: a macro that expands itself in two places
        if depth >= MAX_DEPTH:   # would otherwise report 2**64 times
            self._runaway.add(macro.name)
            self.diags.error(f"macro expansion nested more than {MAX_DEPTH} deep "
                             f"(is '{macro.name}' recursive?)", line, hs, he)
            return
        self.calls += 1
        if self.calls > MAX_CALLS:
            self._too_many_calls(line, hs, he)
        rest = line.text[he:]
        args = split_args(rest) if rest and not rest.isspace() else []
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
        if not macro.lines:
            return
        how = macro.how
        out = []
        new = tuple.__new__
        for b, params in macro.lines:
            o = b.origin
            origin = new(Origin, (o.file, o.line, o.text, line, hs, how))
            if params:
                text, segs = substitute(b.text, values)
                out.append(new(Line, (text, origin, ((segs,) if segs else ()) + b.maps)))
            else:
                out.append(new(Line, (b.text, origin, b.maps)))
        yield from self._expand(out, depth + 1)

    def _rept(self, line: Line, body: list[Line], depth: int) -> Iterator[Line]:
        _, hs, he = self.head(line.text)
        count = self.evaluate(line)
        if count is None:
            return
        if count < 0:
            self.diags.error(f".rept count {count} is negative", line, he, len(line.text))
            return
        if count > MAX_REPT:
            self.diags.error(f".rept count {count:,} is too large (at most {MAX_REPT:,})",
                             line, he, len(line.text))
            return
        if depth >= MAX_DEPTH:
            self.diags.error(f".rept nested more than {MAX_DEPTH} deep", line, hs, he)
            return
        self._charge(count, line, hs, he)
        if not body or not count:
            return
        if count * len(body) + self.emitted > MAX_LINES:
            self._count(count * len(body), line)
        body = self._within(body, line, hs, ".rept")
        if self._plain(body):
            for _ in range(count):
                self._count(len(body), line)
                yield from body
        else:
            for _ in range(count):
                yield from self._expand(body, depth + 1)

    @staticmethod
    def _within(body: list[Line], line: Line, col: int, how: str) -> list[Line]:
        """The body lines as expanded by `line` (a `.rept`): errors and the listing say so."""
        return [Line(b.text, Origin(b.origin.file, b.origin.line, b.origin.text, line, col,
                                    how), b.maps) for b in body]

    def _irp(self, line: Line, body: list[Line], depth: int) -> Iterator[Line]:
        _, hs, he = self.head(line.text)
        args = split_args(line.text[he:])
        usage = ("expected: .irp NAME, VALUE, ...",)
        if not args or not re.fullmatch(r"[A-Za-z_]\w*", args[0][0]):
            col = he + args[0][1] if args else hs
            end = col + len(args[0][0]) if args and args[0][0] else he
            self.diags.error("'.irp' needs a parameter name first", line, col, end, usage)
            return
        name = args[0][0]
        values = [a for a, _ in args[1:]] or [""]
        if depth >= MAX_DEPTH:
            self.diags.error(f".irp nested more than {MAX_DEPTH} deep", line, hs, he)
            return
        known = {name, "()"} | self._inner_names(body)
        bad = set()
        for k, b in enumerate(body):
            for m in _PARAM.finditer(b.text):
                if m.group(1) not in known:
                    self.diags.error(f"'.irp' has no parameter '{m.group(1)}'", b, m.start(),
                                     m.end(), (f"its parameter: {name}",))
                    bad.add(k)
                    break
        self._charge(len(values), line, hs, he)
        for value in values:
            out = []
            for k, b in enumerate(body):
                if k in bad:
                    continue
                text, segs = substitute(b.text, {name: value})
                origin = Origin(b.origin.file, b.origin.line, b.origin.text, line, hs, ".irp")
                out.append(Line(text, origin, ((segs,) if segs else ()) + b.maps))
            yield from self._expand(out, depth + 1)

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
