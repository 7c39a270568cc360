"""The output-file policy of pearray/files.py: never over an input, never a device or a
folder, through symlinks, and nothing left behind by an error, a signal or SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pearray import files
from pearray.files import AtomicOutput, OutputError, check_output, write_atomic

ROOT = Path(__file__).resolve().parents[1]


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture(params=["unnamed", "named"])
def mode(request, monkeypatch) -> str:
    """Every write test runs with O_TMPFILE and with the named-temporary fallback."""
    if request.param == "named":
        monkeypatch.setattr(AtomicOutput, "_open_unnamed", lambda self: None)
    return request.param


def test_the_input_itself_by_any_name_is_refused(tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "p.s"
    src.write_text("halt\n")
    os.link(src, tmp_path / "hard")
    os.symlink("p.s", tmp_path / "soft")
    os.symlink(tmp_path / "soft", tmp_path / "soft2")
    monkeypatch.chdir(tmp_path)
    for out in (src, "p.s", "./p.s", tmp_path / "sub" / ".." / "p.s", "hard", "soft",
                "soft2"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(OutputError, match="is the input"):
            check_output(out, ["p.s"])
        with pytest.raises(OutputError, match="is the input"):
            write_atomic(out, b"x", [str(src)])
    assert src.read_text() == "halt\n"
    assert (tmp_path / "soft").is_symlink()


def test_other_outputs_and_missing_inputs_pass(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    assert check_output(tmp_path / "b", [tmp_path / "a", None, "-",
                                         tmp_path / "missing"]) == str(tmp_path / "b")
    assert check_output("-", [tmp_path / "a"]) == "-"  # stdout is for the caller to handle


@pytest.mark.parametrize("kind", ["dir", "fifo", "chr", "socket"])
def test_folders_fifos_devices_and_sockets_are_refused(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "t"
    if kind == "dir":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "chr":
        try:
            os.mknod(target, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("mknod needs privileges")
    else:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(target))
        s.close()
    before = os.lstat(target).st_mode
    with pytest.raises(OutputError, match="not a regular file"):
        write_atomic(target, b"data")
    link = tmp_path / "link"
    os.symlink(target, link)
    with pytest.raises(OutputError, match="not a regular file"):
        write_atomic(link, b"data")  # also behind a symlink
    assert os.lstat(target).st_mode == before
    assert names(tmp_path) == {"t", "link"}


def test_a_symlink_is_written_through(tmp_path: Path, mode: str) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"old")
    real.chmod(0o640)
    os.symlink("real", tmp_path / "link")
    write_atomic(tmp_path / "link", b"new")
    assert (tmp_path / "link").is_symlink() and os.readlink(tmp_path / "link") == "real"
    assert real.read_bytes() == b"new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640  # permissions kept
    os.symlink("fresh", tmp_path / "dangling")
    write_atomic(tmp_path / "dangling", b"made")
    assert (tmp_path / "fresh").read_bytes() == b"made"
    assert names(tmp_path) == {"real", "link", "dangling", "fresh"}


def test_new_files_get_the_umask_permissions(tmp_path: Path, mode: str) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o640


def test_an_error_leaves_nothing_and_the_old_file(tmp_path: Path, mode: str) -> None:
    (tmp_path / "out").write_bytes(b"old")
    with pytest.raises(RuntimeError), AtomicOutput(tmp_path / "out") as out:
        out.write(b"partial")
        raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt), AtomicOutput(tmp_path / "new", binary=False) as o:
        o.write("partial")
        raise KeyboardInterrupt
    assert names(tmp_path) == {"out"}
    assert (tmp_path / "out").read_bytes() == b"old"
    with AtomicOutput(tmp_path / "out", binary=False) as out:
        out.write("whole\n")
    assert (tmp_path / "out").read_text() == "whole\n" and names(tmp_path) == {"out"}


CHILD = """
import os, signal, sys, time
sys.path.insert(0, {root!r})
from pearray.files import AtomicOutput
if {named}:
    AtomicOutput._open_unnamed = lambda self: None
out = AtomicOutput({path!r})
out.write(b"x" * 100000)
out.file.flush()
print("ready", flush=True)
if {self_kill}:
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(30)
"""


@pytest.mark.parametrize("sig,named", [(signal.SIGKILL, False), (signal.SIGTERM, False),
                                       (signal.SIGTERM, True), (signal.SIGHUP, True),
                                       (signal.SIGINT, True)])
def test_a_killed_writer_leaves_no_file(tmp_path: Path, sig: int, named: bool) -> None:
    """O_TMPFILE: nothing has a name until commit, so even SIGKILL leaves nothing; the
    named fallback removes its temporary on SIGTERM, SIGHUP and SIGINT."""
    code = CHILD.format(root=str(ROOT), named=named, path=str(tmp_path / "trace"),
                        self_kill=sig == signal.SIGKILL)
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                         stdout=subprocess.PIPE, cwd=tmp_path)
    assert p.stdout.readline() == b"ready\n"
    if named:
        assert any(n.startswith(".trace.") for n in names(tmp_path))  # the fallback's temp
    if sig != signal.SIGKILL:
        p.send_signal(sig)
    p.wait(20)
    assert p.returncode != 0
    assert names(tmp_path) == set()


def test_the_fallback_is_cleaned_at_exit(tmp_path: Path) -> None:
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from pearray.files import AtomicOutput
AtomicOutput._open_unnamed = lambda self: None
out = AtomicOutput({str(tmp_path / 'f')!r})
out.write(b"never committed")
sys.exit(3)
"""
    assert subprocess.run([sys.executable, "-c", code]).returncode == 3
    assert names(tmp_path) == set()


def test_unnamed_files_are_used_where_the_kernel_has_them(tmp_path: Path) -> None:
    if not hasattr(os, "O_TMPFILE"):
        pytest.skip("no O_TMPFILE here")
    out = AtomicOutput(tmp_path / "f")
    try:
        assert out._tmp is None and names(tmp_path) == set()
    finally:
        out.discard()
    assert files._pending == set()


def test_inputs_that_are_not_regular_files_are_refused(tmp_path: Path) -> None:
    """Reading a FIFO would block forever and /dev/zero never ends: both are refused at
    once, like a folder; a regular file reads whole."""
    from pearray.files import read_input

    os.mkfifo(tmp_path / "fifo")
    for path, kind in ((tmp_path / "fifo", "a FIFO"), (tmp_path, "a directory"),
                       ("/dev/zero", "a device")):
        with pytest.raises(OutputError, match=f"is {kind}"):
            read_input(path, "program")
    with pytest.raises(OutputError, match="cannot read program"):
        read_input(tmp_path / "missing", "program")
    (tmp_path / "f").write_bytes(b"abc")
    assert read_input(tmp_path / "f") == b"abc"
