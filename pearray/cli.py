"""The `pearray` command: one entry point, a subcommand per stage of the flow.

Each stage's package contributes its subcommands through a `register(sub)`
function that adds an argparse parser whose `func(args) -> int` runs it.
Exit codes (ARCH.md §7): 0 success, 1 a trap in the emulated program,
2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that contribute subcommands, in the order of the flow.
COMMANDS = ("pearray.isa.cli", "pearray.asm.cli", "pearray.emu.cli", "pearray.emu.debug",
            "pearray.net.cli", "pearray.experiment")


class UsageError(Exception):
    """Bad input or usage: printed as `pearray: error: ...`, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pearray",
        description="Toolchain for a multi-bit-width reconfigurable PE array.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a stage not built yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse exits 2 on usage errors
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from pearray.files import OutputError

    try:
        return int(args.func(args) or 0)
    except (UsageError, OutputError) as exc:
        print(f"pearray: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
