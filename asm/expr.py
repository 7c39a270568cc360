"""Assembler expressions: built by the parser, folded when constant, evaluated late.

An expression is either a plain ``int`` (everything constant, folded as it was
parsed) or an :class:`Expr`: a flat postfix program over symbols, local label
references and the location counter ``.``.  Postfix (not a tree) so that
evaluating ``x+x+x+...`` ten thousand terms long cannot hit Python's
recursion limit, and so that one loop evaluates everything.

Arithmetic is on Python ints, bounded to 64 bits so that ``1<<1<<1...`` or a
thousand-digit literal is an error with a position, not a memory bomb.
Division truncates toward zero, as in C.
"""

from __future__ import annotations

from collections.abc import Callable

LIMIT = 1 << 64  # |value| must stay below this (checked after every operation)

# Postfix opcodes (first element of each op tuple).
CONST, SYM, LOCAL, DOT, BIN, UN, ERR = range(7)


class EvalError(Exception):
    """An expression cannot be evaluated: message and the column span to blame."""

    def __init__(self, message: str, col: int, end: int, help: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.col = col
        self.end = end
        self.help = help


class Expr:
    """A non-constant expression: postfix ops plus the span it came from.

    Built from parts (sub-expressions, ints, ops) and flattened on first use,
    iteratively: a 20000-term `x+x+...` costs linear time and no recursion.
    """

    __slots__ = ("_ops", "_parts", "col", "end")

    def __init__(self, ops: tuple | None, col: int, end: int, parts: tuple = ()) -> None:
        self._ops = ops
        self._parts = parts
        self.col = col
        self.end = end

    @property
    def ops(self) -> tuple:
        if self._ops is None:
            out: list = []
            stack = [iter(self._parts)]
            while stack:
                for item in stack[-1]:
                    if type(item) is Expr:
                        if item._ops is not None:
                            out.extend(item._ops)
                        else:
                            stack.append(iter(item._parts))
                            break
                    elif type(item) is int:
                        out.append((CONST, item))
                    else:
                        out.append(item)
                else:
                    stack.pop()
            self._ops = tuple(out)
            self._parts = ()
        return self._ops

    def names(self) -> list[str]:
        """Symbol names the expression refers to (not local labels or `.`)."""
        return [op[1] for op in self.ops if op[0] == SYM]

    def bare_name(self) -> str | None:
        """The symbol name if the expression is just one name (enum operands, .equ)."""
        if len(self.ops) == 1 and self.ops[0][0] == SYM:
            return self.ops[0][1]
        return None

    def __repr__(self) -> str:
        return f"Expr({self.ops!r})"


def _check(v: int, col: int, end: int) -> int:
    if -LIMIT < v < LIMIT:
        return v
    raise EvalError("value does not fit in 64 bits", col, end)


def _div(a: int, b: int, col: int, end: int) -> int:
    if b == 0:
        raise EvalError("division by zero", col, end)
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _mod(a: int, b: int, col: int, end: int) -> int:
    return a - b * _div(a, b, col, end)


def _shl(a: int, b: int, col: int, end: int) -> int:
    if not 0 <= b < 64:
        raise EvalError(f"shift amount {b} outside 0..63", col, end)
    return a << b


def _shr(a: int, b: int, col: int, end: int) -> int:
    if not 0 <= b < 64:
        raise EvalError(f"shift amount {b} outside 0..63", col, end)
    return a >> b


BINARY: dict[str, Callable[[int, int, int, int], int]] = {
    "+": lambda a, b, c, e: a + b,
    "-": lambda a, b, c, e: a - b,
    "*": lambda a, b, c, e: a * b,
    "/": _div,
    "%": _mod,
    "<<": _shl,
    ">>": _shr,
    "&": lambda a, b, c, e: a & b,
    "|": lambda a, b, c, e: a | b,
    "^": lambda a, b, c, e: a ^ b,
    # Comparisons and logic give 1 or 0, as in C (GNU as gives -1 for a true comparison);
    # both sides of && and || are evaluated.
    "==": lambda a, b, c, e: int(a == b),
    "!=": lambda a, b, c, e: int(a != b),
    "<": lambda a, b, c, e: int(a < b),
    ">": lambda a, b, c, e: int(a > b),
    "<=": lambda a, b, c, e: int(a <= b),
    ">=": lambda a, b, c, e: int(a >= b),
    "&&": lambda a, b, c, e: int(bool(a) and bool(b)),
    "||": lambda a, b, c, e: int(bool(a) or bool(b)),
}
UNARY: dict[str, Callable[[int], int]] = {
    "-": lambda a: -a, "~": lambda a: ~a, "+": lambda a: a, "!": lambda a: int(not a),
}


def binary(op: str, a: int | Expr, b: int | Expr, col: int, end: int) -> int | Expr:
    """`a op b`, folded to an int when both sides are constant and the result is valid."""
    if type(a) is int and type(b) is int:
        try:
            return _check(BINARY[op](a, b, col, end), col, end)
        except EvalError:
            pass  # keep it unevaluated: the error is reported with the line's context
    return Expr(None, col, end, (a, b, (BIN, op, col, end)))


def unary(op: str, a: int | Expr, col: int, end: int) -> int | Expr:
    if type(a) is int:
        return UNARY[op](a)
    return Expr(None, col, end, (a, (UN, op)))


_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, "'": 39,
            '"': 34, "?": 63}
_OCT = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")


def unescape(body: str) -> bytes | str:
    """The bytes of a quoted text (C escapes: \\n \\t \\0 \\101 \\x41 ..., other characters
    in UTF-8), or the message saying which escape is unknown (a str)."""
    if "\\" not in body:
        return body.encode("utf-8", "surrogatepass")
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            j = body.find("\\", i)
            j = n if j < 0 else j
            out += body[i:j].encode("utf-8", "surrogatepass")
            i = j
            continue
        if i + 1 >= n:
            return "a backslash ends the text"
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in _OCT:
            j = i + 1
            while j < n and j < i + 4 and body[j] in _OCT:
                j += 1
            v = int(body[i + 1:j], 8)
            if v > 255:
                return f"octal escape '\\{body[i + 1:j]}' is above 255"
            out.append(v)
            i = j
        elif e == "x":
            j = i + 2
            while j < n and j < i + 4 and body[j] in _HEX:
                j += 1
            if j == i + 2:
                return "'\\x' needs one or two hex digits"
            out.append(int(body[i + 2:j], 16))
            i = j
        else:
            return f"unknown escape '\\{e}'"
    return bytes(out)


def number(text: str, col: int) -> int | Expr:
    """A literal: decimal, 0x hex, 0b binary, 0o octal, '_' separators, or 'c'."""
    end = col + len(text)
    if text[0] == "'":
        if len(text) == 3:
            return ord(text[1])
        data = unescape(text[1:-1])
        if isinstance(data, str):
            return Expr(((ERR, data, col, end),), col, end)
        if len(data) != 1:
            return Expr(((ERR, f"a character literal must be one byte, {text} is "
                                f"{len(data)}", col, end),), col, end)
        return data[0]
    digits = text.replace("_", "")
    if len(digits) > 70:  # also keeps int() away from Python's 4300-digit guard
        return Expr(((ERR, "number too large", col, end),), col, end)
    try:
        v = int(digits, 0) if not digits.isdigit() else int(digits, 10)
    except ValueError:
        return Expr(((ERR, f"malformed number {text!r}", col, end),), col, end)
    if v >= LIMIT:
        return Expr(((ERR, "number does not fit in 64 bits", col, end),), col, end)
    return v


def symbol(name: str, col: int) -> Expr:
    return Expr(((SYM, name, col, col + len(name)),), col, col + len(name))


def local_ref(text: str, col: int) -> Expr:
    """`1b` / `1f`: the nearest numeric label 1 backward / forward."""
    end = col + len(text)
    if len(text) > 10:
        return error("local label numbers must be below 10 digits", col, end)
    return Expr(((LOCAL, int(text[:-1]), text[-1] == "f", col, end),), col, end)


def location(col: int) -> Expr:
    return Expr(((DOT, col, col + 1),), col, col + 1)


def error(message: str, col: int, end: int) -> Expr:
    return Expr(((ERR, message, col, end),), col, end)


class Env:
    """What evaluation needs from the assembler: symbol, local label and `.` values.

    Subclasses override the lookups; each raises EvalError with the span given.
    """

    def symbol(self, name: str, col: int, end: int) -> int:
        raise EvalError(f"undefined symbol '{name}'", col, end)

    def local(self, number: int, forward: bool, col: int, end: int) -> int:
        raise EvalError(f"undefined local label '{number}{'f' if forward else 'b'}'", col, end)

    def dot(self, col: int, end: int) -> int:
        raise EvalError("'.' has no value here", col, end)


def evaluate(v: int | Expr, env: Env) -> int:
    """The value of an expression; EvalError (with a span) if it has none."""
    if type(v) is int:
        return v
    ops = v.ops
    if len(ops) == 1:
        op = ops[0]
        if op[0] == SYM:
            return env.symbol(op[1], op[2], op[3])
    stack: list[int] = []
    push = stack.append
    pop = stack.pop
    for op in ops:
        kind = op[0]
        if kind == CONST:
            push(op[1])
        elif kind == SYM:
            push(env.symbol(op[1], op[2], op[3]))
        elif kind == BIN:
            b = pop()
            a = pop()
            push(_check(BINARY[op[1]](a, b, op[2], op[3]), op[2], op[3]))
        elif kind == UN:
            push(UNARY[op[1]](pop()))
        elif kind == LOCAL:
            push(env.local(op[1], op[2], op[3], op[4]))
        elif kind == DOT:
            push(env.dot(op[1], op[2]))
        else:  # ERR
            raise EvalError(op[1], op[2], op[3])
    return stack[0]
