"""Output files for every command: never over an input, never half-written.

The policy, in one place (every command that writes a file goes through it):

* `check_output(path, inputs)` refuses a path that is one of the command's inputs
  (the same file by device and inode, so hard links, symlinks and `./` spellings are
  caught), or a directory, FIFO, device or socket (writing would hang, or turn a
  device into a regular file); "-" (stdout) passes through untouched.
* A symlink is written *through*, as GNU tools do: the link stays, its target gets
  the new contents.
* The data goes to an unnamed file (Linux `O_TMPFILE`) in the target's folder that is
  linked into place only when complete: a crash, Ctrl-C or even SIGKILL leaves no
  file behind, and a reader never sees half a file.  Where `O_TMPFILE` is missing, a
  named temporary file is used instead and removed on an error, on SIGINT, SIGTERM
  and SIGHUP, and at exit.

`write_atomic` writes bytes this way; `AtomicOutput` streams (`pearray run --trace`).
`read_input` reads an input file, refusing the same non-regular files.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import stat
import tempfile
from types import FrameType, TracebackType
from typing import IO, Any

StrPath = str | os.PathLike[str]


class OutputError(ValueError):
    """A path that must not be written (an input, a device, a folder...), or read (a
    FIFO, a device, a folder): a usage error, exit status 2 in the CLI."""


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_output(path: StrPath, inputs: tuple[StrPath | None, ...] | list[Any] = (),
                 what: str = "output") -> str:
    """The file to write for output `path` (symlinks followed), or OutputError.

    `inputs` are the command's input files (missing ones and "-" are skipped); the
    output may not be any of them, whatever the spelling or link that names it.
    """
    if str(path) == "-":
        return "-"
    if not str(path):
        raise OutputError(f"{what}: empty file name")
    target = os.path.realpath(path)  # through symlinks, also a dangling one's target
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {what} {path}: {exc.strerror}") from None
    if st is not None:
        kind = _kind(st.st_mode)
        if kind:
            raise OutputError(f"{what} {path} is {kind}, not a regular file: not writing it")
        for inp in inputs:
            if inp is None or str(inp) == "-":
                continue
            try:
                ist = os.stat(inp)
            except OSError:
                continue
            if (ist.st_dev, ist.st_ino) == (st.st_dev, st.st_ino):
                raise OutputError(f"{what} {path} is the input {inp}: not overwriting it")
    return target


# ------------------------------------------------------------------ cleanup of named temps

_pending: set[str] = set()  # named temporary files to remove if the process ends early
_handlers_installed = False


def _remove_pending() -> None:
    for tmp in list(_pending):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        _pending.discard(tmp)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """Remove the temporaries, then die of the same signal (the exit status says so).
    SIGINT needs no handler: its KeyboardInterrupt unwinds through `discard`."""
    _remove_pending()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_remove_pending)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)
        except ValueError:  # not the main thread: atexit and the finally clauses remain
            pass


def _new_file_mode(target: str) -> int:
    """The existing file's permissions, or what a plain open() would give a new one."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


class AtomicOutput:
    """A file that appears at `path` whole when committed, and not at all otherwise.

    Use as a context manager: leaving the block normally commits, an exception
    discards.  `binary=False` gives a text file (UTF-8).
    """

    def __init__(self, path: StrPath, inputs: tuple[StrPath | None, ...] | list[Any] = (),
                 *, binary: bool = True, what: str = "output") -> None:
        self.path = str(path)
        self.target = check_output(path, inputs, what)
        if self.target == "-":
            raise OutputError(f"{what}: '-' (stdout) is not a file to write atomically")
        self.folder = os.path.dirname(self.target) or "."
        self.mode = _new_file_mode(self.target)
        self._tmp: str | None = None  # named temporary (the fallback)
        fd = self._open_unnamed()
        if fd is None:
            fd, self._tmp = tempfile.mkstemp(
                prefix=f".{os.path.basename(self.target)}.", suffix=".tmp", dir=self.folder)
            _install_handlers()
            _pending.add(self._tmp)
        self._fd = fd
        self.file: IO[Any] = (os.fdopen(fd, "wb") if binary else
                              os.fdopen(fd, "w", encoding="utf-8", newline="\n"))
        self.closed = False

    def _open_unnamed(self) -> int | None:
        flag = getattr(os, "O_TMPFILE", 0)
        if not flag or not os.path.isdir("/proc/self/fd"):
            return None
        try:
            return os.open(self.folder, flag | os.O_WRONLY, 0o600)
        except IsADirectoryError:  # kernels that know no O_TMPFILE say EISDIR
            return None
        except OSError as exc:
            if exc.errno in (95, 22):  # EOPNOTSUPP, EINVAL: the file system cannot
                return None
            raise

    def write(self, data: Any) -> int:
        return self.file.write(data)

    def commit(self) -> None:
        """Put the complete file in place (replacing an older one in one step)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.file.flush()
            os.fchmod(self.file.fileno(), self.mode)
            if self._tmp is None:
                self._link_unnamed()
            else:
                os.replace(self._tmp, self.target)
                _pending.discard(self._tmp)
                self._tmp = None
        finally:
            self.file.close()
            self._discard_tmp()

    def _link_unnamed(self) -> None:
        # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N names the unnamed file (os.link
        # only calls linkat, rather than link, when given a folder descriptor).
        proc = f"/proc/self/fd/{self.file.fileno()}"
        base = os.path.basename(self.target)
        dirfd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                os.link(proc, base, dst_dir_fd=dirfd, follow_symlinks=True)
                return
            except FileExistsError:
                pass
            # An older file is there: link under a fresh name beside it, rename over it.
            for _ in range(100):
                name = f".{base}.{os.urandom(4).hex()}.tmp"
                try:
                    os.link(proc, name, dst_dir_fd=dirfd, follow_symlinks=True)
                    break
                except FileExistsError:
                    continue
            else:
                raise OutputError(f"cannot find a free temporary name beside {self.target}")
            full = os.path.join(self.folder, name)
            _pending.add(full)
            _install_handlers()
            try:
                os.replace(name, base, src_dir_fd=dirfd, dst_dir_fd=dirfd)
            finally:
                _pending.discard(full)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=dirfd)
        finally:
            os.close(dirfd)

    def discard(self) -> None:
        """Drop what was written; the path is left as it was."""
        if self.closed:
            return
        self.closed = True
        try:
            self.file.close()
        finally:
            self._discard_tmp()

    def _discard_tmp(self) -> None:
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            _pending.discard(self._tmp)
            self._tmp = None

    def __enter__(self) -> AtomicOutput:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def write_atomic(path: StrPath, data: bytes,
                 inputs: tuple[StrPath | None, ...] | list[Any] = ()) -> None:
    """Write `data` to `path` whole or not at all, after `check_output(path, inputs)`."""
    with AtomicOutput(path, inputs) as out:
        out.write(data)


def read_input(path: StrPath, what: str = "input") -> bytes:
    """The bytes of an input file; a directory, FIFO, device or socket is an OutputError
    (a ValueError) rather than a hang (a FIFO) or an endless read (/dev/zero)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the open
    except OSError as exc:
        raise OutputError(f"cannot read {what} {path}: {exc.strerror}") from None
    kind = _kind(os.fstat(fd).st_mode)
    if kind:
        os.close(fd)
        raise OutputError(f"{what} {path} is {kind}, not a regular file")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def input_paths(*paths: StrPath | None) -> list[str]:
    """The readable input paths among `paths` (None and "-" dropped), for check_output."""
    return [str(p) for p in paths if p is not None and str(p) != "-"]


__all__ = ["AtomicOutput", "OutputError", "check_output", "input_paths", "read_input",
           "write_atomic"]
