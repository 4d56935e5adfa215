"""The analyze output folder: one writer, one reader, a format version.

A run is written into a fresh sibling folder (``.NAME.run-HOST-PID-HEX``) and swapped in whole
when it succeeds, so a reader of ``NAME`` sees the previous run or the new one, never a mix:
on Linux the two folders are exchanged in one ``renameat2(RENAME_EXCHANGE)`` call; elsewhere
the old folder is renamed away and the new one renamed in (a reader may then briefly find no
folder, never a partial one). The last file a run writes is ``run.json``: the format version,
a run id and every file with its size. Every file gets one mode (``0o666`` less the umask, as
any file a program creates; directories ``0o777`` less the umask) and is flushed to disk before
the swap, so a power cut leaves the old run or the new one.

:func:`check_complete` is the reader's side: a folder without ``run.json`` or whose files do not
match it is refused (:class:`IncompleteOutput`).
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

OUTPUT_FORMAT = "saferoad-analyze-output"
OUTPUT_FORMAT_VERSION = 1
MANIFEST = "run.json"
GROWING = frozenset({"log.jsonl"})
"""Files that may still grow after the swap (the run's own log): listed without a size."""
STAGING_MARK = ".run-"


class IncompleteOutput(ValueError):
    """An output folder that a run did not finish (no ``run.json``, or files that differ)."""


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


UMASK = _umask()
FILE_MODE = 0o666 & ~UMASK
DIR_MODE = 0o777 & ~UMASK


def staging_prefix(out_dir: Path) -> str:
    return f".{out_dir.name}{STAGING_MARK}"


def is_staging(path: Path) -> bool:
    """Whether ``path`` is (inside) a run folder that was never swapped in."""
    return any(part.startswith(".") and STAGING_MARK in part for part in path.parts)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
"""This machine, in run folder names: a process id means nothing on another machine sharing
the folder (a network file system)."""
ABANDONED_AFTER_S = 24 * 3600.0
"""A run folder of another machine untouched this long is abandoned too."""


def abandoned(path: Path, host: str, pid: int | None) -> bool:
    """Whether ``path``, which the writer ``host`` (:data:`HOST` of its machine) / ``pid`` left
    beside an output (a run folder, a ``tracks.parquet`` temporary), is abandoned: this
    machine's whose process no longer runs (never this process's); another machine's, or one
    whose writer is not known (``pid`` None), untouched for :data:`ABANDONED_AFTER_S`."""
    if host == HOST and pid is not None:
        return pid != os.getpid() and not _pid_alive(pid)
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:  # gone meanwhile
        return False
    return age > ABANDONED_AFTER_S


def remove_abandoned(out_dir: Path) -> int:
    """Delete run folders beside ``out_dir`` left by a process that died (kill -9, power cut):
    this machine's whose process is gone, another machine's untouched for a day."""
    n = 0
    prefix = staging_prefix(out_dir)
    if not out_dir.parent.is_dir():
        return 0
    for p in out_dir.parent.iterdir():
        if not p.name.startswith(prefix):
            continue
        try:
            host, pid_text = p.name[len(prefix) :].split("-")[:2]
            pid = int(pid_text)
        except ValueError:
            continue
        if abandoned(p, host, pid):
            shutil.rmtree(p, ignore_errors=True)
            n += 1
    return n


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the data files were synced
    finally:
        os.close(fd)


def finish_folder(folder: Path, **extra: Any) -> dict[str, Any]:
    """Give every file in ``folder`` one mode, flush it, and write ``run.json`` last (what
    :func:`run_folder` does before the swap; for an output assembled by other means)."""
    files: dict[str, int | None] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            continue
        if p.is_dir():
            os.chmod(p, DIR_MODE)
            continue
        os.chmod(p, FILE_MODE)
        _fsync(p)
        files[rel] = None if rel in GROWING else p.stat().st_size
    manifest = {
        "format": OUTPUT_FORMAT,
        "format_version": OUTPUT_FORMAT_VERSION,
        "run_id": secrets.token_hex(8),
        **extra,
        "files": files,
    }
    path = folder / MANIFEST
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest, indent=2) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, FILE_MODE)
    os.chmod(folder, DIR_MODE)
    _fsync(folder, directory=True)
    return manifest


def swap_in(staging: Path, out_dir: Path) -> None:
    """Make ``staging`` the folder ``out_dir`` in one step; the previous run is deleted."""
    if not out_dir.exists():
        try:
            os.rename(staging, out_dir)
            _fsync(out_dir.parent, directory=True)
            return
        except OSError as err:
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    if not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir}: exists and is not a folder")
    if _exchange(staging, out_dir):
        old = staging  # after the exchange the staging name holds the previous run
    else:
        old = staging.with_name(staging.name + "-old")
        os.rename(out_dir, old)
        os.rename(staging, out_dir)
    _fsync(out_dir.parent, directory=True)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def run_folder(out_dir: Path, **manifest: Any) -> Iterator[Path]:
    """A fresh folder to write one run into; swapped in as ``out_dir`` when the block succeeds,
    deleted when it raises (``out_dir`` then stays as it was)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned(out_dir)
    staging = out_dir.parent / f"{staging_prefix(out_dir)}{HOST}-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir(mode=0o777)
    try:
        yield staging
        finish_folder(staging, **manifest)
        swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_manifest(out_dir: Path) -> dict[str, Any]:
    """``run.json`` of a finished run; :class:`IncompleteOutput` otherwise."""
    path = out_dir / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IncompleteOutput(
            f"{path}: missing: not a finished analyze run (interrupted, or written by hand); run analyze again"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IncompleteOutput(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict) or data.get("format") != OUTPUT_FORMAT:
        raise IncompleteOutput(f"{path}: field 'format': expected {OUTPUT_FORMAT!r}")
    if data.get("format_version") != OUTPUT_FORMAT_VERSION:
        raise IncompleteOutput(
            f"{path}: field 'format_version': {data.get('format_version')!r} is not supported "
            f"(this saferoad reads {OUTPUT_FORMAT_VERSION})"
        )
    if not isinstance(data.get("files"), dict):
        raise IncompleteOutput(f"{path}: field 'files': expected an object")
    return data


def check_complete(out_dir: Path, *, sizes: bool = True) -> dict[str, Any]:
    """The manifest of ``out_dir`` after checking every file it lists is there (with its size
    unless ``sizes`` is false)."""
    data = read_manifest(out_dir)
    for rel, size in data["files"].items():
        p = out_dir / rel
        if not p.is_file():
            raise IncompleteOutput(f"{p}: missing (listed in {MANIFEST}): an incomplete run")
        if sizes and isinstance(size, int) and p.stat().st_size != size:
            raise IncompleteOutput(
                f"{p}: {p.stat().st_size} bytes, {MANIFEST} says {size}: changed after the run"
            )
    return data


__all__ = [
    "FILE_MODE",
    "MANIFEST",
    "OUTPUT_FORMAT_VERSION",
    "IncompleteOutput",
    "check_complete",
    "finish_folder",
    "is_staging",
    "read_manifest",
    "remove_abandoned",
    "run_folder",
    "swap_in",
]
