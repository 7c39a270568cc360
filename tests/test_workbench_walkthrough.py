"""README's walk-through "Adding an instruction", done for real in a copy of the checkout.

The code blocks are taken from README.md between `<!-- walkthrough -->` and
`<!-- /walkthrough -->`: the TOML entry is appended to the copy's isa/isa.toml,
the shell lines run in the copy (`pearray`, `python` and `pytest` as this
interpreter's `-m pearray`, itself and `-m pytest`, so that the copy's sources are
the ones imported, as they are in a `pip install -e` checkout), and the Python
block is written to the file its first line names.  With `PEARRAY_CORE_OPT=-O0`
the core builds in seconds.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from pearray.isa import load as load_isa

ROOT = Path(__file__).resolve().parent.parent


def package_dirs() -> dict[str, str]:
    """pyproject.toml's package-dir: import name -> folder of the checkout."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return project["tool"]["setuptools"]["package-dir"]


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- walkthrough -->\n(.*?)<!-- /walkthrough -->", text, re.S)
    assert m, "README.md has no <!-- walkthrough --> section"
    return m.group(1)


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def command(line: str) -> tuple[dict[str, str], list[str]]:
    """Environment assignments and argv of one shell line, with the tools mapped; an
    `export X=Y` line is all assignments (and no argv)."""
    words = shlex.split(line)
    if words[0] == "export":
        return dict(w.split("=", 1) for w in words[1:]), []
    env = {}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    tool = {"pearray": [sys.executable, "-m", "pearray"], "python": [sys.executable],
            "pytest": [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]}
    return env, tool[words[0]] + words[1:]


def copy_checkout(dest: Path) -> None:
    """The package's folders, docs and build files; then `pearray/<sub>` links to each
    folder, as an editable install maps them, so that `python -m pearray` in the copy
    imports the copy whether this interpreter's pearray is editable or not."""
    ignore = shutil.ignore_patterns("__pycache__", "_core*.so", "*.pyc", "build")
    dirs = package_dirs()
    for name in ("pyproject.toml", "setup.py", "docs", *dirs.values()):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy(src, dest / name)
    for mod, folder in dirs.items():
        if "." in mod:
            (dest / "pearray" / mod.split(".", 1)[1]).symlink_to(Path("..") / folder)


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | (env or {})
    return subprocess.run(argv, cwd=cwd, env=full, capture_output=True, text=True, timeout=600)


def test_adding_an_instruction(tmp_path: Path) -> None:
    text = walkthrough()
    [entry] = blocks(text, "toml")
    shell = [ln for b in blocks(text, "sh") for ln in b.splitlines() if ln.strip()]
    [test_code] = blocks(text, "python")
    name = re.search(r'name = "(\w+)"', entry)[1]
    assert f"{name}.b" not in load_isa().by_key  # the installed table lacks it

    copy_checkout(tmp_path)
    with (tmp_path / "isa" / "isa.toml").open("a") as fh:
        fh.write("\n" + entry)
    target = test_code.splitlines()[0].removeprefix("# ").strip()
    (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / target).write_text(test_code)

    outputs, exported = [], {}
    for line in shell:
        env, argv = command(line)
        if not argv:
            exported |= env
            continue
        done = run(argv, tmp_path, exported | env)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    assert re.search(r"\b2 passed\b", outputs[-1]), outputs[-1]
    assert f"`{name}.{{b,h}} rd, rs, rt`" in (tmp_path / "docs" / "isa.md").read_text()

    # and the last sentence: the assembler and `pearray run` know it from the table alone
    (tmp_path / "avg.s").write_text(
        "        li r1, 0x7f80ff01\n        li r2, 0x7f7f0102\n"
        f"        {name}.b r3, r1, r2\n        {name}.h r4, r1, r2\n        halt\n")
    done = run([sys.executable, "-m", "pearray", "run", "avg.s", "--rows", "1", "--cols", "1",
                "--json"], tmp_path, exported)
    assert done.returncode == 0, done.stderr
    regs = json.loads(done.stdout)["pes"][0]["regs"]
    # bytes (lane 0 first) 1,-1,-128,127 and 2,1,127,127: (a+b+1)>>1 = 2, 0, 0, 127
    assert regs[3] == 0x7F000002
    # halves 0xff01 = -255, 0x7f80 = 32640 and 0x0102 = 258, 0x7f7f = 32639:
    # (-255+258+1)>>1 = 2, (32640+32639+1)>>1 = 32640
    assert regs[4] == 0x7F800002
