"""The per-recording result cache of an evaluation.

A result is keyed by what decides it: the recording's content (every file under its folder,
names and bytes), the fingerprint of the config sections ``analyze`` reads (``evaluation`` and
``store`` are left out: they change how results are scored and kept, not the results), and
the code version (saferoad's version plus a hash of its Python sources, so an edit to any
stage invalidates what it could have changed). A result is written to a temporary folder and
renamed into place, so a killed run leaves either a whole result or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from saferoad._version import __version__
from saferoad.config import SaferoadConfig, config_hash

_CHUNK = 1 << 20
RESULT_FILE = "result.json"
"""Written last in each cached result: its presence marks the result complete."""
_NOT_ANALYSIS = ("evaluation", "store")


def analysis_fingerprint(config: SaferoadConfig) -> str:
    """A hash of the config sections that can change analyze's output."""
    data = config.model_dump(mode="json")
    for k in _NOT_ANALYSIS:
        data.pop(k, None)
    return config_hash(data)


@lru_cache(maxsize=1)
def code_version() -> str:
    """``<version>+<hash of saferoad's .py files>`` (entry points excluded: a CLI edit cannot
    change a result). ``SAFEROAD_CODE_VERSION`` overrides it: an image build sets it to the
    commit it was built from (deploy/Dockerfile)."""
    pinned = os.environ.get("SAFEROAD_CODE_VERSION")
    if pinned:
        return f"{__version__}+{pinned}"
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith("entrypoints/"):
            continue
        h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return f"{__version__}+{h.hexdigest()[:12]}"


def content_hash(path: Path) -> str:
    """BLAKE2b of every regular file under ``path`` (relative names and bytes, sorted), or of
    the file itself. Hidden files and folders (``.name``) are skipped."""
    h = hashlib.blake2b(digest_size=16)
    if path.is_file():
        files = [path]
        base = path.parent
    else:
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        base = path
    if not files:
        raise ValueError(f"{path}: no files to read")
    for p in files:
        h.update(p.relative_to(base).as_posix().encode() + b"\0")
        with p.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def result_key(content: str, fingerprint: str, version: str) -> str:
    return hashlib.sha256(f"{content}|{fingerprint}|{version}".encode()).hexdigest()[:24]


class ResultCache:
    """Finished results under ``root/<key[:2]>/<key>/`` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def has(self, key: str) -> bool:
        return (self.path(key) / RESULT_FILE).is_file()

    def load_meta(self, key: str) -> dict[str, Any]:
        meta: dict[str, Any] = json.loads((self.path(key) / RESULT_FILE).read_text("utf-8"))
        return meta

    def put(self, key: str, files: dict[str, bytes], meta: dict[str, Any]) -> Path:
        """Store ``files`` (name -> bytes) and ``meta`` atomically under ``key``."""
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=final.parent))
        try:
            for name, data in files.items():
                if "/" in name or name.startswith("."):
                    raise ValueError(f"bad result file name {name!r}")
                (tmp / name).write_bytes(data)
            (tmp / RESULT_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True), "utf-8")
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def clean_partial(self) -> int:
        """Remove temporary folders a killed run left behind; returns how many."""
        n = 0
        for d in self.root.glob("*/.tmp-*"):
            shutil.rmtree(d, ignore_errors=True)
            n += 1
        for d in self.root.glob("*/*"):
            if d.is_dir() and not d.name.startswith(".") and not (d / RESULT_FILE).exists():
                shutil.rmtree(d, ignore_errors=True)
                n += 1
        return n
